import { Agent, request } from 'undici';

/** A fully read subgraph response: the gateway reads every body whole, so buffering once is all it needs. */
export interface SubgraphResponse {
  status: number;
  /** Lower-case names, as undici gives them. */
  headers: Readonly<Record<string, string | string[] | undefined>>;
  body: string;
}

export interface SubgraphRequest {
  headers: Readonly<Record<string, string>>;
  /** The JSON body, `{"query":…` first, as data-sources.ts builds it (isRead relies on it). */
  body: string;
}

export interface SubgraphHttp {
  /** POSTs `req` to `url`: identical reads in flight share one upstream request (when dedup is on). */
  send(url: string, req: SubgraphRequest): Promise<SubgraphResponse>;
  close(): Promise<void>;
}

/** Subgraph reads are deduplicated while in flight; writes never are (each must run exactly once). */
function isRead(body: string): boolean {
  return /^\{"query":"\s*(query\b|\{)/.test(body);
}

/**
 * Subgraph HTTP on undici's `request` with keep-alive connections. The stock fetcher (make-fetch-happen) opens and
 * tears down connections, and undici's WHATWG `fetch` layer (Request objects, web streams, body mixins) was 20% of
 * the gateway's CPU in the profile; `request` skips both, and the answer stays plain (no `Headers` object: the data
 * source reads two headers).
 *
 * Identical reads in flight at the same moment (same subgraph, same operation and variables, same gateway-signed
 * claims, so the same tenant, principal and scopes) share one upstream request: a dashboard fleet asking the same
 * thing costs the subgraphs one query, not fifty.
 */
export function keepAliveHttp(opts: { dedup: boolean }): SubgraphHttp {
  const agent = new Agent({ keepAliveTimeout: 30_000, connections: 64, pipelining: 1 });
  const inFlight = new Map<string, Promise<SubgraphResponse>>();
  const post = async (url: string, req: SubgraphRequest): Promise<SubgraphResponse> => {
    const res = await request(url, { method: 'POST', headers: req.headers, body: req.body, dispatcher: agent });
    return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
  };
  return {
    send(url, req) {
      if (!opts.dedup || !isRead(req.body)) return post(url, req);
      const key = `${url}\n${req.headers['x-gateway-claims'] ?? ''}\n${req.body}`;
      let pending = inFlight.get(key);
      if (!pending) {
        pending = post(url, req).finally(() => inFlight.delete(key));
        inFlight.set(key, pending);
      }
      return pending;
    },
    close: () => agent.close(),
  };
}
