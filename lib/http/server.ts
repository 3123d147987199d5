import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type ApolloServer, type BaseContext, HeaderMap } from '@apollo/server';
import { type Readiness, sendHealth } from '../telemetry/health';
import type { HeldAnswers, PlainAnswer } from './held-answers';

export const MAX_BODY_BYTES = 1_000_000;
/** Vendor webhooks are small; the gateway's forwarder and the sync service's receiver refuse bigger bodies (413). */
export const WEBHOOK_MAX_BYTES = 512 * 1024;

export interface GraphQLHttpOptions<C extends BaseContext> {
  apollo: ApolloServer<C>;
  /**
   * Builds the per-request context from the request and its parsed body (undefined for GET); throw a GraphQLError
   * with `http.status` to refuse the request.
   */
  context: (req: IncomingMessage, body: unknown) => Promise<C>;
  /** Readiness: true when the service can serve traffic (schema loaded, database reachable), with details if any. */
  ready: () => Promise<boolean | Readiness>;
  /** Last touch on a complete response body, with the request's context (the gateway splices cached data in). */
  finishBody?: (context: C | undefined, body: string) => string;
  /** Runs once the response is written (or the request failed), with the context if one was built. */
  finished?: (context: C | undefined) => void;
  /**
   * Runs first, before the body is read: an answer to send as it is (a refusal that must cost next to nothing), to be
   * written after `holdMs` by `held` (at once without it), or null to serve the request.
   */
  preflight?: (req: IncomingMessage) => (PlainAnswer & { holdMs?: number }) | null;
  /** Where preflight answers wait their `holdMs`. */
  held?: HeldAnswers;
}

export interface RunningServer {
  server: Server;
  url: string;
  port: number;
  /**
   * Stops accepting and drains: requests in flight finish and are answered with `Connection: close`, idle keep-alive
   * sockets close at once, and after `graceMs` (default 30 s) whatever is still open is closed.
   */
  close(graceMs?: number): Promise<void>;
}

/**
 * A small HTTP front for Apollo Server: /graphql, /healthz (liveness), /readyz (readiness) and /metrics. Written on node:http
 * rather than a framework because it is the gateway's hot path and has nothing else to route.
 */
export function graphqlHttpHandler<C extends BaseContext>(opts: GraphQLHttpOptions<C>) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const pathname = q === -1 ? url : url.slice(0, q);
    // /healthz, /readyz and /metrics (lib/telemetry/health.ts).
    if (await sendHealth(pathname, res, opts.ready)) return;
    if (pathname !== '/graphql') return sendJson(res, 404, { errors: [{ message: 'Not found', extensions: { code: 'NOT_FOUND' } }] });

    const early = opts.preflight?.(req);
    if (early) {
      // The unread body is discarded by node once the answer is written; the connection stays usable.
      if (opts.held && early.holdMs) opts.held.answer(res, early, early.holdMs);
      else res.writeHead(early.status, early.headers).end(early.body);
      return;
    }
    let body: unknown;
    try {
      body = await readBody(req);
    } catch (err) {
      const tooLarge = err instanceof BodyTooLarge;
      // The rest of the body was never read: this connection cannot carry another request.
      res.setHeader('connection', 'close');
      return sendJson(res, tooLarge ? 413 : 400, {
        errors: [{ message: tooLarge ? `Request body exceeds ${MAX_BODY_BYTES} bytes` : 'Request body is not valid JSON', extensions: { code: tooLarge ? 'PAYLOAD_TOO_LARGE' : 'BAD_REQUEST' } }],
      });
    }
    const headers = new HeaderMap();
    for (const [key, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(', ') : value);
    }
    let context: C | undefined;
    try {
      const result = await opts.apollo.executeHTTPGraphQLRequest({
        httpGraphQLRequest: { method: (req.method ?? 'GET').toUpperCase(), headers, search: q === -1 ? '' : url.slice(q + 1), body },
        context: async () => (context = await opts.context(req, body)),
      });
      res.statusCode = result.status ?? 200;
      for (const [key, value] of result.headers) res.setHeader(key, value);
      if (result.body.kind === 'complete') {
        res.end(opts.finishBody ? opts.finishBody(context, result.body.string) : result.body.string);
        return;
      }
      for await (const chunk of result.body.asyncIterator) res.write(chunk);
      res.end();
    } finally {
      opts.finished?.(context);
    }
  };
}

export interface CloseHooks {
  /** Runs first: close long-lived connections (WebSockets) that would keep the server open. */
  beforeClose?: () => Promise<void>;
  /** Runs once no request is in flight any more. */
  afterClose?: () => Promise<void>;
}

export async function listen(
  handler: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
  host: string,
  port: number,
  hooks: CloseHooks = {},
): Promise<RunningServer> {
  let draining = false;
  const inFlight = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    // While draining, every answer says so and its socket closes right after it (no reset of a keep-alive client
    // that would send its next request on a socket we are about to drop).
    if (draining) res.shouldKeepAlive = false;
    inFlight.add(res);
    res.once('close', () => inFlight.delete(res));
    handler(req, res).catch((err: unknown) => {
      // Never leak internals: the handler's own errors are logged by the caller's Apollo plugins.
      if (!res.headersSent) sendJson(res, 500, { errors: [{ message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });
      else res.destroy(err instanceof Error ? err : undefined);
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  const actual = (server.address() as AddressInfo).port;
  return {
    server,
    port: actual,
    url: `http://${host}:${actual}/graphql`,
    async close(graceMs = 30_000) {
      draining = true;
      // Answers already being written keep their headers; the others go out with `Connection: close`.
      for (const res of inFlight) if (!res.headersSent) res.shouldKeepAlive = false;
      await hooks.beforeClose?.();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Only sockets with no request on them are dropped now; the others close after their last response.
      server.closeIdleConnections();
      // A hard bound for a request that never ends (the orchestrator's kill would come anyway).
      const timer = setTimeout(() => server.closeAllConnections(), graceMs);
      await closed;
      clearTimeout(timer);
      await hooks.afterClose?.();
    },
  };
}

class BodyTooLarge extends Error {}

/** The request's body, or null once it grows past `maxBytes` (the rest is not read into memory). */
export async function readRawBody(req: IncomingMessage, maxBytes: number): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > maxBytes) return null;
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  if (req.method === 'GET' || req.method === 'HEAD') return undefined;
  const raw = await readRawBody(req, MAX_BODY_BYTES);
  if (raw === null) throw new BodyTooLarge();
  const text = raw.toString('utf8');
  if (text.length === 0) return undefined;
  const type = req.headers['content-type'] ?? '';
  // Non-JSON bodies go to Apollo as text so it answers with its own media-type error (and CSRF checks apply).
  return type.includes('json') ? (JSON.parse(text) as unknown) : text;
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.end(JSON.stringify(body));
}
