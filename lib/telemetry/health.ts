import type { ServerResponse } from 'node:http';
import { metricsText } from './registry';

/**
 * What /readyz reports: `ready` decides the status (200 or 503); `checks` name each dependency's state, e.g.
 * `{ supergraph: 'ok', redis: 'degraded' }` (a degraded dependency is reported and still ready).
 */
export interface Readiness {
  ready: boolean;
  checks: Record<string, string>;
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.statusCode = status;
  res.setHeader('content-type', contentType);
  res.end(body);
}

/**
 * Answers the operational endpoints every server of the product has: /healthz (the process answers), /readyz
 * (`ready()`), /metrics (Prometheus text of this process). Returns false for any other path.
 */
export async function sendHealth(pathname: string, res: ServerResponse, ready: () => Promise<boolean | Readiness>): Promise<boolean> {
  const json = 'application/json; charset=utf-8';
  switch (pathname) {
    case '/healthz':
      send(res, 200, json, JSON.stringify({ status: 'ok' }));
      return true;
    case '/readyz': {
      const answer = await ready().catch((): Readiness => ({ ready: false, checks: { readiness: 'error' } }));
      const r: Readiness = typeof answer === 'boolean' ? { ready: answer, checks: {} } : answer;
      send(res, r.ready ? 200 : 503, json, JSON.stringify({ status: r.ready ? 'ready' : 'not ready', checks: r.checks }));
      return true;
    }
    case '/metrics': {
      const m = await metricsText();
      send(res, 200, m.contentType, m.body);
      return true;
    }
    default:
      return false;
  }
}
