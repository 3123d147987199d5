import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GraphQLError, GraphQLFormattedError } from 'graphql';
import type { Principal } from '../../lib/auth/principal';
import { z } from 'zod';
import type { HeldAnswers } from '../../lib/http/held-answers';
import { readRawBody, sendJson } from '../../lib/http/server';
import { specOf } from '../../lib/errors';
import { type RefusalHold, holdFor } from './refusal-hold';
import type { SubscribePayload, SubscribeRequests } from './requests';

/** The wire pieces both SSE modes share (sse.ts: distinct connections; sse-single.ts: single connection). */

export interface SseLimits {
  maxBuffered: number;
  maxBufferedBytes: number;
  keepAliveMs: number;
  maxPayloadBytes: number;
}

/** What both SSE modes are built from. */
export interface SseOptions {
  requests: SubscribeRequests;
  verify: (token: string) => Promise<Principal>;
  limits: SseLimits;
  formatError: (error: GraphQLError, correlationId: string) => GraphQLFormattedError;
  /** Subscribes refused for a spent budget are answered after a hold (refusal-hold.ts). */
  hold?: RefusalHold;
}

/** A subscribe over SSE: graphql-sse's single connection mode names the operation in `extensions.operationId`. */
export type SsePayload = SubscribePayload & { extensions?: Record<string, unknown> | null };

export const payloadSchema = z.object({
  query: z.string(),
  variables: z.record(z.string(), z.unknown()).nullish(),
  operationName: z.string().nullish(),
  extensions: z.record(z.string(), z.unknown()).nullish(),
});

/** graphql-sse's `print`: an event with its data on one line (JSON never contains a raw newline). */
export const event = (name: 'next' | 'complete', data: string | null): string => `event: ${name}\ndata:${data === null ? '' : ` ${data}`}\n\n`;

export class Refusal extends Error {
  constructor(readonly status: number, readonly errors: readonly GraphQLFormattedError[]) {
    super(errors[0]?.message ?? 'refused');
  }
}

/** The GraphQL request of an SSE subscribe (query string of a GET, JSON body of a POST), or a Refusal. */
export async function payloadOf(req: IncomingMessage, maxBytes: number): Promise<SsePayload> {
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

/** A refusal as JSON with its status, every error carrying the request's correlation id. */
export function sendRefusal(
  res: ServerResponse, status: number, errors: readonly GraphQLFormattedError[], correlationId: string, hold?: { held: HeldAnswers; ms: number },
): void {
  const body = { errors: errors.map((e) => ({ ...e, extensions: { ...e.extensions, correlationId } })) };
  if (!hold || hold.ms <= 0) {
    if (status === 401) res.setHeader('www-authenticate', 'Bearer');
    return sendJson(res, status, body);
  }
  // Held (a spent budget): Retry-After counts from the moment the answer is written.
  const after = errors[0]?.extensions?.['retryAfterSeconds'];
  const retryAfter = Math.max(1, Math.ceil((typeof after === 'number' ? after : 1) - hold.ms / 1000));
  hold.held.answer(res, { status, headers: { 'content-type': 'application/json; charset=utf-8', 'retry-after': String(retryAfter) }, body: JSON.stringify(body) }, hold.ms);
}

/**
 * A subscribe refused by `SubscribeRequests.prepare`: the first error's code gives the status; a spent budget's 429 is
 * held (refusal-hold.ts).
 */
export function refuseSubscribe(res: ServerResponse, errors: readonly GraphQLError[], opts: Pick<SseOptions, 'formatError' | 'hold'>, correlationId: string): void {
  const formatted = errors.map((e) => opts.formatError(e, correlationId));
  const ms = holdFor(errors, opts.hold);
  sendRefusal(res, specOf(errors[0]?.extensions['code']).status, formatted, correlationId, opts.hold && ms > 0 ? { held: opts.hold.held, ms } : undefined);
}

/** Starts an event stream on `res`: no caching or transforming proxies, no buffering ingress. */
export function openEventStream(res: ServerResponse): void {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  res.flushHeaders();
}

export interface StreamWriter {
  /** Writes without waiting; past `maxBuffered` frames or `maxBufferedBytes` not yet taken by the socket, drops the stream. */
  write(text: string): void;
  ended(): boolean;
  /** Ends the response at once (no `complete`): a slow consumer, which clients take as a dropped connection. */
  dropSlow(): void;
}

export function streamWriter(res: ServerResponse, limits: Pick<SseLimits, 'maxBuffered' | 'maxBufferedBytes'>): StreamWriter {
  let frames = 0;
  const written = () => void (frames -= 1);
  const ended = () => res.writableEnded || res.destroyed;
  const dropSlow = () => res.destroy();
  return {
    ended,
    dropSlow,
    write(text) {
      if (ended()) return;
      frames += 1;
      res.write(text, written);
      if (frames > limits.maxBuffered || res.writableLength > limits.maxBufferedBytes) dropSlow();
    },
  };
}
