import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type ExecutionResult, GraphQLError, type GraphQLFormattedError } from 'graphql';
import type { Principal } from '../../lib/auth/principal';
import { bearerToken } from '../../lib/auth/tokens';
import { fieldError } from '../../lib/errors';
import { at } from './expiry';
import type { Sink } from './fanout';
import { openStream } from './requests';
import type { Slot } from './slots';
import { type SseOptions, type SsePayload, type StreamWriter, Refusal, event, openEventStream, payloadOf, refuseSubscribe, sendRefusal, streamWriter } from './sse-wire';

/** graphql-sse's header for the reservation token (EventSource clients put it in `?token=` instead). */
export const STREAM_TOKEN_HEADER = 'x-graphql-event-stream-token';

/** A reservation nobody connects an event stream to is dropped after this long. */
export const RESERVATION_TIMEOUT_MS = 30_000;

/** Reservations one token subject may hold without a connected stream (each PUT makes one). */
export const MAX_UNCONNECTED_PER_SUBJECT = 10;


export interface SingleConnectionMode {
  /** PUT: authenticates and answers 201 with a reservation token (text/plain). */
  reserve(req: IncomingMessage, res: ServerResponse, correlationId: string): Promise<void>;
  /** A request carrying a reservation token: GET opens its event stream, POST starts an operation, DELETE stops one. */
  serve(req: IncomingMessage, res: ServerResponse, token: string, correlationId: string): Promise<void>;
  /** Connected event streams. */
  open(): number;
  close(): void;
}

interface Operation {
  slot: Slot;
  stream: AsyncGenerator<ExecutionResult> | null;
  stopped: boolean;
}

interface Reservation {
  principal: Principal;
  subject: string;
  /** The event stream once connected; frames written before it connects wait in `pending`. */
  out: StreamWriter | null;
  res: ServerResponse | null;
  pending: string[];
  operations: Map<string, Operation>;
  timer: NodeJS.Timeout | undefined;
  keepAlive: NodeJS.Timeout | undefined;
  cancelExpiry: () => void;
}

const subjectOf = (p: Principal) => JSON.stringify([p.tenant, p.kind, p.sub]);

/**
 * graphql-sse's single connection mode: one event stream carries every operation of a client, for browsers whose
 * HTTP/1.1 connection limit (6 per host) distinct streams would exhaust. `PUT` with `Authorization: Bearer` reserves
 * a stream (201, a random token); `GET` with the token (header or `?token=`, as EventSource cannot send headers) and
 * `Accept: text/event-stream` connects it, once; `POST` with the token and `extensions.operationId` starts an
 * operation (202; refusals as JSON with their status, as in distinct mode), whose results arrive on the stream as
 * `{"id": operationId, "payload": result}`; `DELETE ?operationId=` stops one (200).
 *
 * The token is the credential for everything after the PUT: operations run as the principal the PUT authenticated,
 * through the same checks, slots (an operation counts against the stream's per-connection limit) and fan-out core as
 * every other subscription. The stream ends, without `complete`, when that principal's token expires, on a slow
 * consumer or at shutdown; its operations end with it and the reservation is gone, so graphql-sse's client reserves
 * anew (with fresh headers) and re-sends its operations. Reservations live in the instance that made them: behind a
 * load balancer, requests carrying one token must reach the same instance (affinity on the token header or `token`
 * parameter); a client sent elsewhere gets 404 and reserves again there.
 */
export function singleConnectionMode(opts: SseOptions): SingleConnectionMode {
  const { limits } = opts;
  const reservations = new Map<string, Reservation>();
  const unconnected = new Map<string, number>();
  const tokens = new WeakMap<Reservation, string>();
  const tokenOf = (r: Reservation) => tokens.get(r) ?? '';
  let connected = 0;

  const countUnconnected = (subject: string, delta: number) => {
    const n = (unconnected.get(subject) ?? 0) + delta;
    if (n > 0) unconnected.set(subject, n);
    else unconnected.delete(subject);
  };
  const write = (r: Reservation, text: string) => {
    if (r.out) r.out.write(text);
    else if (r.pending.push(text) > limits.maxBuffered) drop(r, true);
  };
  const stop = (op: Operation) => {
    if (op.stopped) return;
    op.stopped = true;
    op.slot.release();
    void op.stream?.return(undefined);
  };
  /** Ends the reservation: its operations, its stream (without `complete`), its timers. */
  const drop = (r: Reservation, slow = false) => {
    if (reservations.get(tokenOf(r)) === r) reservations.delete(tokenOf(r));
    if (r.timer) {
      clearTimeout(r.timer);
      r.timer = undefined;
      countUnconnected(r.subject, -1);
    }
    clearInterval(r.keepAlive);
    r.cancelExpiry();
    for (const op of r.operations.values()) stop(op);
    r.operations.clear();
    r.pending = [];
    if (r.res && !r.res.writableEnded) {
      if (slow) r.res.destroy();
      else r.res.end();
    }
  };

  const connect = (r: Reservation, res: ServerResponse) => {
    clearTimeout(r.timer);
    r.timer = undefined;
    countUnconnected(r.subject, -1);
    r.res = res;
    r.out = streamWriter(res, limits);
    connected += 1;
    res.once('close', () => {
      connected -= 1;
      drop(r);
    });
    openEventStream(res);
    for (const text of r.pending.splice(0)) r.out.write(text);
    r.keepAlive = setInterval(() => res.write(':\n\n'), limits.keepAliveMs);
    r.keepAlive.unref();
  };

  const operate = async (r: Reservation, req: IncomingMessage, res: ServerResponse, correlationId: string) => {
    const refuse = (status: number, errors: readonly GraphQLFormattedError[]) => sendRefusal(res, status, errors, correlationId);
    let payload: SsePayload;
    try {
      payload = await payloadOf(req, limits.maxPayloadBytes);
    } catch (err) {
      if (err instanceof Refusal) return refuse(err.status, err.errors);
      throw err;
    }
    const id = payload.extensions?.['operationId'];
    if (typeof id !== 'string' || id === '') {
      return refuse(400, [{ message: 'Single connection mode needs `extensions.operationId`', extensions: { code: 'BAD_REQUEST' } }]);
    }
    if (r.operations.has(id)) return refuse(409, [{ message: `Operation ${id} is already running on this stream`, extensions: { code: 'CONFLICT' } }]);
    const opId = JSON.stringify(id);
    const own = (result: ExecutionResult) => ({ ...result, errors: result.errors?.map((e) => opts.formatError(e, correlationId)) });
    const next = (json: string) => write(r, event('next', `{"id":${opId},"payload":${json}}`));
    const complete = () => write(r, event('complete', `{"id":${opId}}`));
    const sink: Sink = { next: (shared) => next(shared.json), nextOwn: (result) => next(JSON.stringify(own(result))), dropSlow: () => drop(r, true) };
    const prepared = await opts.requests.prepare({ principal: r.principal, payload, correlationId, onConnection: r.operations.size, sink, transport: 'SSE' });
    if ('errors' in prepared) return refuseSubscribe(res, prepared.errors, opts, correlationId);
    // The reservation may have ended, or the id been taken, while the document was checked.
    if (reservations.get(tokenOf(r)) !== r || r.operations.has(id)) {
      prepared.slot.release();
      return refuse(409, [{ message: 'The stream ended or the operation id was taken meanwhile', extensions: { code: 'CONFLICT' } }]);
    }
    const op: Operation = { slot: prepared.slot, stream: null, stopped: false };
    r.operations.set(id, op);
    res.statusCode = 202;
    res.end();
    const finish = (last: string) => {
      // Stopped by DELETE or by the stream's end: nothing more for this id.
      if (op.stopped) return;
      r.operations.delete(id);
      stop(op);
      write(r, last);
    };
    try {
      const result = await openStream(prepared.args);
      if (!('next' in result)) {
        finish(event('next', `{"id":${opId},"payload":${JSON.stringify(own(result))}}`) + event('complete', `{"id":${opId}}`));
        return;
      }
      op.stream = result;
      if (op.stopped) {
        await result.return(undefined);
        return;
      }
      for await (const _ of result) {
        // results go through the sink
      }
      if (!op.stopped) {
        r.operations.delete(id);
        stop(op);
        complete();
      }
    } catch (err) {
      const error = err instanceof GraphQLError ? err : fieldError('INTERNAL_SERVER_ERROR', err instanceof Error ? err.message : String(err));
      finish(event('next', `{"id":${opId},"payload":${JSON.stringify(own({ errors: [error] }))}}`) + event('complete', `{"id":${opId}}`));
    }
  };

  return {
    open: () => connected,
    close() {
      for (const r of [...reservations.values()]) drop(r);
    },
    async reserve(req, res, correlationId) {
      let principal: Principal;
      try {
        principal = await opts.verify(bearerToken(req.headers.authorization));
      } catch (err) {
        const message = err instanceof GraphQLError ? err.message : 'Invalid token';
        return sendRefusal(res, 401, [{ message, extensions: { code: 'UNAUTHENTICATED' } }], correlationId);
      }
      const subject = subjectOf(principal);
      if ((unconnected.get(subject) ?? 0) >= MAX_UNCONNECTED_PER_SUBJECT) {
        return sendRefusal(res, 429, [{ message: `At most ${MAX_UNCONNECTED_PER_SUBJECT} stream reservations without a connected stream`, extensions: { code: 'RATE_LIMITED' } }], correlationId);
      }
      const token = randomBytes(24).toString('base64url');
      const r: Reservation = {
        principal, subject, out: null, res: null, pending: [], operations: new Map(), timer: undefined, keepAlive: undefined, cancelExpiry: () => undefined,
      };
      tokens.set(r, token);
      reservations.set(token, r);
      countUnconnected(subject, 1);
      r.timer = setTimeout(() => drop(r), RESERVATION_TIMEOUT_MS);
      r.timer.unref();
      // The principal's token ends the reservation and its stream (no `complete`): the client reserves anew.
      r.cancelExpiry = at(principal.exp * 1000, () => drop(r));
      res.writeHead(201, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(token);
    },
    async serve(req, res, token, correlationId) {
      const r = reservations.get(token);
      if (!r) return sendRefusal(res, 404, [{ message: 'Stream not found: reserve one with PUT', extensions: { code: 'NOT_FOUND' } }], correlationId);
      switch (req.method) {
        case 'GET': {
          if (!(req.headers.accept ?? '').includes('text/event-stream')) {
            return sendRefusal(res, 406, [{ message: 'Send Accept: text/event-stream', extensions: { code: 'BAD_REQUEST' } }], correlationId);
          }
          if (r.res) return sendRefusal(res, 409, [{ message: 'Stream already open', extensions: { code: 'CONFLICT' } }], correlationId);
          connect(r, res);
          return;
        }
        case 'POST':
          return operate(r, req, res, correlationId);
        case 'DELETE': {
          const id = new URL(req.url ?? '/', 'http://localhost').searchParams.get('operationId');
          if (!id) return sendRefusal(res, 400, [{ message: 'operationId is missing', extensions: { code: 'BAD_REQUEST' } }], correlationId);
          const op = r.operations.get(id);
          if (op) {
            r.operations.delete(id);
            stop(op);
          }
          res.statusCode = 200;
          res.end();
          return;
        }
        default:
          res.setHeader('allow', 'GET, POST, DELETE');
          return sendRefusal(res, 405, [{ message: 'With a reservation token: GET (the stream), POST (an operation) or DELETE (?operationId=)', extensions: { code: 'BAD_REQUEST' } }], correlationId);
      }
    },
  };
}
