import type { IncomingMessage, ServerResponse } from 'node:http';
import { type ExecutionResult, GraphQLError, type GraphQLFormattedError } from 'graphql';
import { z } from 'zod';
import type { Principal } from '../../lib/auth/principal';
import { bearerToken } from '../../lib/auth/tokens';
import { CORRELATION_HEADER, correlationIdFrom } from '../../lib/correlation';
import { fieldError, specOf } from '../../lib/errors';
import { readRawBody, sendJson } from '../../lib/http/server';
import { at } from './expiry';
import type { Sink } from './fanout';
import { type SubscribePayload, type SubscribeRequests, openStream } from './requests';

/** Where GraphQL over SSE is served (graphql-sse's "distinct connections" mode: one subscription per request). */
export const SSE_PATH = '/graphql/stream';

export interface SseLimits {
  maxBuffered: number;
  maxBufferedBytes: number;
  keepAliveMs: number;
  maxPayloadBytes: number;
}

export interface SseOptions {
  requests: SubscribeRequests;
  verify: (token: string) => Promise<Principal>;
  limits: SseLimits;
  formatError: (error: GraphQLError, correlationId: string) => GraphQLFormattedError;
}

export interface SseTransport {
  /** Serves the request if it is for SSE_PATH (true), else leaves it alone (false). */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  /** Open event streams. */
  open(): number;
  /** Ends every stream without `complete`: clients take it as a dropped connection and reconnect elsewhere. */
  close(): void;
}

const payloadSchema = z.object({
  query: z.string(),
  variables: z.record(z.string(), z.unknown()).nullish(),
  operationName: z.string().nullish(),
  extensions: z.record(z.string(), z.unknown()).nullish(),
});

/** graphql-sse's `print`: an event with its data on one line (JSON never contains a raw newline). */
const event = (name: 'next' | 'complete', data: string | null) => `event: ${name}\ndata:${data === null ? '' : ` ${data}`}\n\n`;

class Refusal extends Error {
  constructor(readonly status: number, readonly errors: readonly GraphQLFormattedError[]) {
    super(errors[0]?.message ?? 'refused');
  }
}

async function payloadOf(req: IncomingMessage, maxBytes: number): Promise<SubscribePayload> {
  let raw: unknown;
  if (req.method === 'GET') {
    const params = new URL(req.url ?? '/', 'http://localhost').searchParams;
    const variables = params.get('variables');
    const extensions = params.get('extensions');
    try {
      raw = {
        query: params.get('query'), operationName: params.get('operationName'),
        variables: variables ? (JSON.parse(variables) as unknown) : null, extensions: extensions ? (JSON.parse(extensions) as unknown) : null,
      };
    } catch {
      throw new Refusal(400, [{ message: 'variables and extensions must be JSON', extensions: { code: 'BAD_REQUEST' } }]);
    }
  } else {
    const body = await readRawBody(req, maxBytes);
    if (body === null) throw new Refusal(413, [{ message: `Request body exceeds ${maxBytes} bytes`, extensions: { code: 'PAYLOAD_TOO_LARGE' } }]);
    try {
      raw = JSON.parse(body.toString('utf8')) as unknown;
    } catch {
      throw new Refusal(400, [{ message: 'Request body is not valid JSON', extensions: { code: 'BAD_REQUEST' } }]);
    }
  }
  const parsed = payloadSchema.safeParse(raw);
  if (!parsed.success) throw new Refusal(400, [{ message: 'A subscribe needs `query` (string), optional `variables` and `operationName`', extensions: { code: 'BAD_REQUEST' } }]);
  return parsed.data;
}

/**
 * GraphQL over Server-Sent Events (the graphql-sse protocol, distinct connections mode), for clients that cannot keep
 * a WebSocket open: POST (or GET) to SSE_PATH with `Accept: text/event-stream` and `Authorization: Bearer`. The same
 * checks as graphql-ws run through the same code (requests.ts: document limits, root field authorized by the policy
 * table, slots per principal and tenant), and the same fan-out core writes its pre-serialized results here as
 * `event: next`. Refusals before the stream starts are plain JSON with the code's HTTP status (401, 400, 413, 429);
 * a request error of the operation itself (FORBIDDEN) is one `next` and `complete`, as graphql-sse does. An expired
 * token, a slow consumer or a shutdown ends the response without `complete`, which graphql-sse's client retries
 * (with fresh headers when they are a function). Plain HTTP/1.1 chunked responses with a comment line every
 * `keepAliveMs`, so proxies neither buffer nor time out the stream.
 */
export function sseTransport(opts: SseOptions): SseTransport {
  const { limits } = opts;
  const open = new Set<ServerResponse>();

  const serve = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const correlationId = correlationIdFrom(req.headers[CORRELATION_HEADER]);
    const refuse = (status: number, errors: readonly GraphQLFormattedError[]) => {
      if (status === 401) res.setHeader('www-authenticate', 'Bearer');
      sendJson(res, status, { errors: errors.map((e) => ({ ...e, extensions: { ...e.extensions, correlationId } })) });
    };
    if (req.method !== 'GET' && req.method !== 'POST') {
      res.setHeader('allow', 'GET, POST');
      return refuse(405, [{ message: 'GraphQL over SSE takes GET or POST', extensions: { code: 'BAD_REQUEST' } }]);
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
    let payload: SubscribePayload;
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
    let frames = 0;
    const written = () => void (frames -= 1);
    const dropSlow = () => res.destroy();
    const sink: Sink = {
      next(json) {
        if (res.writableEnded || res.destroyed) return;
        frames += 1;
        res.write(event('next', json), written);
        if (frames > limits.maxBuffered || res.writableLength > limits.maxBufferedBytes) dropSlow();
      },
      nextOwn(r) {
        this.next(JSON.stringify(own(r)));
      },
      dropSlow,
    };
    const prepared = await opts.requests.prepare({ principal, payload, correlationId, onConnection: 0, sink, transport: 'SSE' });
    if ('errors' in prepared) {
      const code = prepared.errors[0]?.extensions['code'];
      return refuse(specOf(code).status, prepared.errors.map((e) => opts.formatError(e, correlationId)));
    }
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
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.flushHeaders();
    open.add(res);
    // The token's end ends the stream (no `complete`): the client reconnects with fresh credentials.
    cancelExpiry = at(principal.exp * 1000, () => res.end());
    keepAlive = setInterval(() => res.write(':\n\n'), limits.keepAliveMs);
    keepAlive.unref();

    const ended = () => res.writableEnded || res.destroyed;
    try {
      const result = await openStream(args);
      if (!('next' in result)) {
        if (!ended()) res.end(event('next', JSON.stringify(own(result))) + event('complete', null));
        return;
      }
      stream = result;
      if (ended()) {
        await stream.return(undefined);
        return;
      }
      // Results reach the response through the sink; the stream only ends (or fails) the subscription.
      for await (const _ of stream) {
        // nothing is yielded
      }
      if (!ended()) res.end(event('complete', null));
    } catch (err) {
      const error = err instanceof GraphQLError ? err : fieldError('INTERNAL_SERVER_ERROR', err instanceof Error ? err.message : String(err));
      if (!ended()) res.end(event('next', JSON.stringify(own({ errors: [error] }))) + event('complete', null));
    } finally {
      cleanup();
    }
  };

  return {
    open: () => open.size,
    close() {
      for (const res of open) res.end();
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
