import type { IncomingMessage, ServerResponse } from 'node:http';
import { WEBHOOK_MAX_BYTES, readRawBody, sendJson } from '../lib/http/server';
import type { Logger } from '../lib/logger';

export interface WebhookForwardOptions {
  /** The sync service's base URL (its GraphQL URL without `/graphql`). */
  syncBaseUrl: string;
  logger: Logger;
  /** @default WEBHOOK_MAX_BYTES */
  maxBytes?: number;
  /** How long the sync service may take to store the event. @default 10000 */
  timeoutMs?: number;
}

const PREFIX = '/webhooks/';
/** Hop-by-hop headers (RFC 9110 7.6.1) and the ones the forwarding request sets itself. */
const NOT_FORWARDED = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'host', 'content-length', 'expect']);

const refuse = (res: ServerResponse, status: number, code: string, message: string) => sendJson(res, status, { error: { code, message } });

/**
 * `POST /webhooks/*` on the gateway, forwarded to the sync service (which owns the ledger and verifies the vendor's
 * signature). Vendors get one public address. The body is read as bytes (bounded) and sent on unchanged, with every
 * end-to-end header (the vendor's signature headers included), because a signature over the raw body breaks on any
 * re-encoding. No JWT: the signature is the authentication, checked behind. The sync service's answer (2xx only once
 * the event is stored, 401, 404, 413) goes back as it is; a sync service that cannot be reached is a 502/504, which
 * vendors retry. Returns false for other paths.
 */
export function webhookForwarder(opts: WebhookForwardOptions) {
  const { syncBaseUrl, logger, maxBytes = WEBHOOK_MAX_BYTES, timeoutMs = 10_000 } = opts;
  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (!path.startsWith(PREFIX)) return false;
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      refuse(res, 405, 'METHOD_NOT_ALLOWED', 'Webhooks are POSTed');
      return true;
    }
    const declared = Number(req.headers['content-length'] ?? 0);
    const body = declared > maxBytes ? null : await readRawBody(req, maxBytes);
    if (!body) {
      // The rest of the body was never read: this connection cannot carry another request.
      res.setHeader('connection', 'close');
      refuse(res, 413, 'PAYLOAD_TOO_LARGE', `Webhook body exceeds ${maxBytes} bytes`);
      return true;
    }
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      if (value === undefined || NOT_FORWARDED.has(name)) continue;
      for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
    }
    headers.set('x-forwarded-for', req.socket.remoteAddress ?? '');
    let answer: Response;
    try {
      answer = await fetch(`${syncBaseUrl}${path}`, { method: 'POST', headers, body, signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
    } catch (err) {
      const timedOut = err instanceof DOMException && err.name === 'TimeoutError';
      logger.warn({ path, reason: timedOut ? 'timeout' : 'unreachable' }, 'webhook not forwarded');
      refuse(res, timedOut ? 504 : 502, 'UPSTREAM_UNAVAILABLE', 'Webhook receiver unavailable; retry later');
      return true;
    }
    res.statusCode = answer.status;
    const type = answer.headers.get('content-type');
    if (type) res.setHeader('content-type', type);
    const allow = answer.headers.get('allow');
    if (allow) res.setHeader('allow', allow);
    res.end(Buffer.from(await answer.arrayBuffer()));
    return true;
  };
}

/** Serves webhooks first, everything else with `next`. */
export function withWebhooks(
  forward: (req: IncomingMessage, res: ServerResponse) => Promise<boolean>,
  next: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  return async (req, res) => {
    if (!(await forward(req, res))) await next(req, res);
  };
}
