import type { IncomingMessage, ServerResponse } from 'node:http';
import { type ExecutionResult, GraphQLError, type GraphQLFormattedError } from 'graphql';
import type { Principal } from '../../lib/auth/principal';
import { bearerToken } from '../../lib/auth/tokens';
import { CORRELATION_HEADER, correlationIdFrom } from '../../lib/correlation';
import { fieldError } from '../../lib/errors';
import { sendJson } from '../../lib/http/server';
import { at } from './expiry';
import type { Sink } from './fanout';
import { openStream } from './requests';
import { type SingleConnectionMode, STREAM_TOKEN_HEADER, singleConnectionMode } from './sse-single';
import { type SseOptions, type SsePayload, Refusal, event, openEventStream, payloadOf, refuseSubscribe, sendRefusal, streamWriter } from './sse-wire';

export type { SseLimits, SseOptions } from './sse-wire';

/** Where GraphQL over SSE is served, in both of graphql-sse's modes (distinct connections and single connection). */
export const SSE_PATH = '/graphql/stream';


export interface SseTransport {
  /** Serves the request if it is for SSE_PATH (true), else leaves it alone (false). */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  /** Open event streams (both modes). */
  open(): number;
  /** Ends every stream without `complete`: clients take it as a dropped connection and reconnect elsewhere. */
  close(): void;
}

/** The reservation token of a single-connection request: graphql-sse sends it as a header, EventSource as `?token=`. */
function reservationToken(req: IncomingMessage): string | null {
  const header = req.headers[STREAM_TOKEN_HEADER];
  if (typeof header === 'string' && header) return header;
  const url = req.url ?? '/';
  if (!url.includes('token=')) return null;
  return new URL(url, 'http://localhost').searchParams.get('token');
}

/**
 * GraphQL over Server-Sent Events (the graphql-sse protocol), for clients that cannot keep a WebSocket open.
 *
 * Distinct connections mode (this file): POST (or GET) to SSE_PATH with `Accept: text/event-stream` and
 * `Authorization: Bearer`, one subscription per response. Single connection mode (sse-single.ts): a PUT reserves a
 * stream, one GET carries the results of every operation POSTed with the reservation token. Both run the same checks
 * as graphql-ws through the same code (requests.ts: document limits, root field authorized by the policy table,
 * slots per principal and tenant) and the same fan-out core, which writes its pre-serialized results here.
 * Refusals before the stream starts are plain JSON with the code's HTTP status (401, 400, 413, 429); a request error
 * of the operation itself (FORBIDDEN) is one `next` and `complete`, as graphql-sse does. An expired token, a slow
 * consumer or a shutdown ends the response without `complete`, which graphql-sse's client retries (with fresh
 * headers when they are a function). Plain HTTP/1.1 chunked responses with a comment line every `keepAliveMs`, so
 * proxies neither buffer nor time out the stream.
 */
export function sseTransport(opts: SseOptions): SseTransport {
  const { limits } = opts;
  const open = new Set<ServerResponse>();
  const single: SingleConnectionMode = singleConnectionMode(opts);

  const serve = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const correlationId = correlationIdFrom(req.headers[CORRELATION_HEADER]);
    const refuse = (status: number, errors: readonly GraphQLFormattedError[]) => sendRefusal(res, status, errors, correlationId);
    if (req.method === 'PUT') return single.reserve(req, res, correlationId);
    const token = reservationToken(req);
    if (token !== null) return single.serve(req, res, token, correlationId);
    if (req.method !== 'GET' && req.method !== 'POST') {
      res.setHeader('allow', 'GET, POST, PUT, DELETE');
      return refuse(405, [{ message: 'GraphQL over SSE takes GET or POST (PUT, then DELETE with a reservation token, in single connection mode)', extensions: { code: 'BAD_REQUEST' } }]);
    }
    if (!(req.headers.accept ?? '').includes('text/event-stream')) {
      return refuse(406, [{ message: 'Send Accept: text/event-stream', extensions: { code: 'BAD_REQUEST' } }]);
    }
    let principal: Principal;
    try {
      principal = await opts.verify(bearerToken(req.headers.authorization));
    } catch (err) {
      const message = err instanceof GraphQLError ? err.message : 'Invalid token';
      return refuse(401, [{ message, extensions: { code: 'UNAUTHENTICATED' } }]);
    }
    let payload: SsePayload;
    try {
      payload = await payloadOf(req, limits.maxPayloadBytes);
    } catch (err) {
      if (err instanceof Refusal) {
        res.setHeader('connection', 'close');
        return refuse(err.status, err.errors);
      }
      throw err;
    }

    const own = (r: ExecutionResult) => ({ ...r, errors: r.errors?.map((e) => opts.formatError(e, correlationId)) });
    const out = streamWriter(res, limits);
    const sink: Sink = {
      next: (shared) => out.write(event('next', shared.json)),
      nextOwn: (r) => out.write(event('next', JSON.stringify(own(r)))),
      dropSlow: out.dropSlow,
    };
    const prepared = await opts.requests.prepare({ principal, payload, correlationId, onConnection: 0, sink, transport: 'SSE' });
    if ('errors' in prepared) return refuseSubscribe(res, prepared.errors, opts, correlationId);
    const { slot, args } = prepared;
    let stream: AsyncGenerator<ExecutionResult> | null = null;
    let cancelExpiry = () => undefined as void;
    let keepAlive: NodeJS.Timeout | undefined;
    const cleanup = () => {
      slot.release();
      cancelExpiry();
      clearInterval(keepAlive);
      open.delete(res);
      void stream?.return(undefined);
    };
    res.once('close', cleanup);
    openEventStream(res);
    open.add(res);
    // The token's end ends the stream (no `complete`): the client reconnects with fresh credentials.
    cancelExpiry = at(principal.exp * 1000, () => res.end());
    keepAlive = setInterval(() => res.write(':\n\n'), limits.keepAliveMs);
    keepAlive.unref();

    try {
      const result = await openStream(args);
      if (!('next' in result)) {
        if (!out.ended()) res.end(event('next', JSON.stringify(own(result))) + event('complete', null));
        return;
      }
      stream = result;
      if (out.ended()) {
        await stream.return(undefined);
        return;
      }
      // Results reach the response through the sink; the stream only ends (or fails) the subscription.
      for await (const _ of stream) {
        // nothing is yielded
      }
      if (!out.ended()) res.end(event('complete', null));
    } catch (err) {
      const error = err instanceof GraphQLError ? err : fieldError('INTERNAL_SERVER_ERROR', err instanceof Error ? err.message : String(err));
      if (!out.ended()) res.end(event('next', JSON.stringify(own({ errors: [error] }))) + event('complete', null));
    } finally {
      cleanup();
    }
  };

  return {
    open: () => open.size + single.open(),
    close() {
      for (const res of open) res.end();
      single.close();
    },
    handle(req, res) {
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      if ((q === -1 ? url : url.slice(0, q)) !== SSE_PATH) return false;
      serve(req, res).catch(() => {
        if (!res.headersSent) sendJson(res, 500, { errors: [{ message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });
        else res.destroy();
      });
      return true;
    },
  };
}
