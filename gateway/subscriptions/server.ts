import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { ApolloServer } from '@apollo/server';
import type { ExecutionResult, GraphQLError, GraphQLSchema } from 'graphql';
import { CloseCode } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { type WebSocket, WebSocketServer } from 'ws';
import { z } from 'zod';
import type { Principal } from '../../lib/auth/principal';
import { CORRELATION_HEADER, correlationIdFrom } from '../../lib/correlation';
import { fieldError } from '../../lib/errors';
import type { EventBus } from '../../lib/events';
import type { Logger } from '../../lib/logger';
import { subscriptionDeliveries, subscriptionFanOutDuration, subscriptionLedgerReads, subscriptionResumes } from '../../lib/telemetry/gateway-metrics';
import type { GatewayContext } from '../context';
import type { OperationLimits } from '../operation-limits';
import type { PartnerDocumentRule } from '../trusted-documents';
import type { RateLimits } from '../rate-limit';
import { wsErrorFormatter } from './errors';
import { at } from './expiry';
import { type SharedResult, type Sink, fanOut } from './fanout';
import { replayQueue } from './replay-queue';
import { type RefusalHold, holdFor } from './refusal-hold';
import { openStream, subscribeRequests } from './requests';
import { GATEWAY_FIELDS } from './schema';
import { type Slot, subscriptionSlots } from './slots';
import { sseTransport } from './sse';
import { directWriter, textFrame } from './ws-frame';

/** Close code for a subscriber that cannot keep up (its undelivered events exceeded the limit). */
export const SLOW_CONSUMER_CLOSE_CODE = 4008;

const limitsSchema = z
  .object({
    /** @default 25 */
    perConnection: z.number().int().positive(),
    /** Concurrent subscriptions of one token subject (tenant, kind, sub) on this instance. @default 100 */
    perPrincipal: z.number().int().positive(),
    /** Concurrent subscriptions of one tenant on this instance. @default 5000 */
    perTenant: z.number().int().positive(),
    /**
     * Frames written to one connection (WebSocket or SSE stream) and not yet taken by its socket, and events waiting
     * in one fan-out group, before the consumer is dropped as a slow one (4008 on WebSocket). @default 1000
     */
    maxBuffered: z.number().int().positive(),
    /** Bytes written to one connection and not yet taken by its socket before it is dropped as slow. @default 4 MiB */
    maxBufferedBytes: z.number().int().positive(),
    /** Ledger replays (resumes with `after` that the recent history cannot serve) running at once per instance. @default 8 */
    maxConcurrentReplays: z.number().int().positive(),
    /** Recent events each fan-out group keeps for resuming subscribers. @default 256 */
    historySize: z.number().int().positive(),
    /**
     * Subscribers the fan-out writes to per event loop turn (all groups together) before it yields (setImmediate), so
     * that one event to thousands of subscribers does not hold the loop for the whole fan-out (~20 µs each). @default 500
     */
    fanOutSlice: z.number().int().positive(),
    /** Keep-alive ping interval (ms). @default 12000 */
    keepAliveMs: z.number().int().positive(),
    /** Largest WebSocket message accepted (connection_init included); larger ones close the socket with 1009. @default 1 MiB */
    maxPayloadBytes: z.number().int().positive(),
    /** Approximate bytes of checked subscription documents cached per schema. @default 8 MiB */
    documentCacheBytes: z.number().int().positive(),
  })
  .strict();

export type SubscriptionLimits = z.infer<typeof limitsSchema>;

export const DEFAULT_SUBSCRIPTION_LIMITS: SubscriptionLimits = {
  perConnection: 25, perPrincipal: 100, perTenant: 5000, maxBuffered: 1000, maxBufferedBytes: 4 * 1024 * 1024, maxConcurrentReplays: 8, historySize: 256, fanOutSlice: 500, keepAliveMs: 12_000, maxPayloadBytes: 1024 * 1024, documentCacheBytes: 8 * 1024 * 1024,
};

/** The defaults with `overrides` (SUBSCRIPTION_LIMITS, JSON) applied; fails fast on an unknown key or a bad value. */
export function subscriptionLimits(overrides: Record<string, unknown>): SubscriptionLimits {
  const parsed = limitsSchema.partial().safeParse(overrides);
  if (!parsed.success) {
    throw new Error(`Invalid configuration:\n${parsed.error.issues.map((i) => `  ${['SUBSCRIPTION_LIMITS', ...i.path].join('.')}: ${i.message}`).join('\n')}`);
  }
  return { ...DEFAULT_SUBSCRIPTION_LIMITS, ...parsed.data };
}

export interface SubscriptionServerOptions {
  server: Server;
  apollo: ApolloServer<GatewayContext>;
  bus: EventBus;
  verify: (token: string) => Promise<Principal>;
  logger: Logger;
  limits: SubscriptionLimits;
  /** The HTTP endpoint's document limits, applied to subscribe documents too. */
  operationLimits: OperationLimits;
  /** The partner rule of the HTTP endpoint (trusted-documents.ts), applied to each subscribe before parsing. */
  partnerDocuments: PartnerDocumentRule;
  /** The HTTP endpoint's rate limits, charged for each subscribe. */
  charge: RateLimits['charge'];
  /** A subscribe refused for a spent budget: its connection is not read for the hold (SSE: its 429 is held). */
  hold?: RefusalHold;
  production: boolean;
}

interface Running {
  slot: Slot;
  correlationId: string;
}

/** Frames in flight on one connection: counted down as its socket takes them. */
interface Backlog {
  frames: number;
  readonly written: () => void;
}

const backlog = (): Backlog => {
  const b: Backlog = { frames: 0, written: () => void (b.frames -= 1) };
  return b;
};

interface Extra {
  principal?: Principal;
  cancelExpiry?: () => void;
  /** Resumes reading the socket after a refusal's hold. */
  resumeTimer?: NodeJS.Timeout;
  /** This connection's subscriptions that hold a slot, by id. */
  running: Map<string, Running>;
  backlog: Backlog;
}

export interface SubscriptionServer {
  /** Swaps in a schema built on the gateway's new API schema (called on every supergraph load or update). */
  updateSchema(apiSchema: GraphQLSchema): void;
  /** Serves GraphQL over SSE (graphql-sse) on its path; false for any other request. */
  handleHttp(req: IncomingMessage, res: ServerResponse): boolean;
  /** Open connections and running subscriptions (the /metrics gauges), and the fan-out's groups. */
  stats(): { connections: number; subscriptions: number; groups: number; replays: { running: number; waiting: number } };
  close(): Promise<void>;
}

/** Longer than any real token (Node's own header limit is 16 KiB): refused without being decoded. */
export const MAX_TOKEN_CHARS = 16 * 1024;

function tokenFrom(params: Readonly<Record<string, unknown>> | undefined): string | null {
  const raw = params?.['authorization'] ?? params?.['Authorization'] ?? params?.['token'];
  if (typeof raw !== 'string' || raw.length > MAX_TOKEN_CHARS) return null;
  return raw.replace(/^Bearer\s+/i, '');
}

const isAsyncGenerator = (value: unknown): value is AsyncGenerator<ExecutionResult> =>
  typeof value === 'object' && value !== null && Symbol.asyncIterator in value && 'return' in value;

/** The same stream, calling `onReturn` synchronously when graphql-ws ends it (client `complete`, socket closed). */
function onReturn(source: AsyncGenerator<ExecutionResult>, release: () => void): AsyncGenerator<ExecutionResult> {
  const wrapped: AsyncGenerator<ExecutionResult> = {
    next: (...args) => source.next(...args),
    return: (value) => {
      release();
      return source.return(value);
    },
    throw: (err) => {
      release();
      return source.throw(err);
    },
    [Symbol.asyncIterator]: () => wrapped,
  };
  return wrapped;
}

const MESSAGE_END = Buffer.from('}');

/**
 * A graphql-ws subscription's writer: the group's result, encoded once for the group, is framed between this
 * subscription's `{"id":…,"type":"next","payload":` and `}` into one WebSocket frame and written straight to the
 * socket (ws-frame.ts; through ws when that path is not available): no parse, no re-serialization, no re-encoding
 * per subscriber, and writes never wait. Past `maxBuffered` frames or `maxBufferedBytes` not yet taken by the
 * socket, the connection is closed with 4008.
 */
function wsSink(socket: WebSocket, queue: Backlog, id: string, limits: SubscriptionLimits, own: (r: ExecutionResult) => unknown): Sink {
  const prefixText = `{"id":${JSON.stringify(id)},"type":"next","payload":`;
  const prefix = Buffer.from(prefixText);
  const direct = directWriter(socket);
  const dropSlow = () => socket.close(SLOW_CONSUMER_CLOSE_CODE, 'Slow consumer: too many undelivered events');
  const written = (sent: boolean) => {
    if (!sent) return;
    queue.frames += 1;
    if (queue.frames > limits.maxBuffered || socket.bufferedAmount > limits.maxBufferedBytes) dropSlow();
  };
  const sendText = (json: string) => {
    socket.send(`${prefixText}${json}}`, queue.written);
    return true;
  };
  const next = (shared: SharedResult) => {
    if (socket.readyState !== socket.OPEN) return;
    written((direct !== null && direct(textFrame(prefix, shared.utf8, MESSAGE_END), queue.written)) || sendText(shared.json));
  };
  const nextOwn = (r: ExecutionResult) => {
    if (socket.readyState !== socket.OPEN) return;
    written(sendText(JSON.stringify(own(r))));
  };
  return { next, nextOwn, dropSlow };
}

/**
 * graphql-ws on the gateway's own HTTP server and path, and graphql-sse beside it (sse.ts), both on one fan-out core
 * (fanout.ts). WebSocket messages above `maxPayloadBytes` close the socket (1009) before they are read.
 * connection_init authenticates; a missing, bad or expired token closes with 4403, which clients retry with fresh
 * `connectionParams` (4401 would end them for good). Each subscribe is checked with the HTTP document limits and the
 * partner rule, its root field authorized from the policy table as graphql-js executes it (schema.ts), and bounded per connection, per
 * token subject and per tenant; a slot is released the moment the subscription ends.
 */
export function attachSubscriptions(opts: SubscriptionServerOptions): SubscriptionServer {
  const { limits, production } = opts;
  const slots = subscriptionSlots(limits);
  const replays = replayQueue(limits.maxConcurrentReplays);
  const fanout = fanOut({
    bus: opts.bus, maxBuffered: limits.maxBuffered, historySize: limits.historySize, sliceSize: limits.fanOutSlice, replays, gatewayFields: GATEWAY_FIELDS,
    onResume: (source) => subscriptionResumes.inc({ source }),
    onLedgerRead: () => subscriptionLedgerReads.inc(),
    onFanOut: (seconds, deliveries) => {
      subscriptionFanOutDuration.observe(seconds);
      subscriptionDeliveries.inc(deliveries);
    },
  });
  const requests = subscribeRequests({
    apollo: opts.apollo, fanout, slots, operationLimits: opts.operationLimits, partnerDocuments: opts.partnerDocuments, charge: opts.charge,
    documentCacheBytes: limits.documentCacheBytes,
    production, logger: opts.logger,
  });
  const formatError = wsErrorFormatter(production, opts.logger);
  const sse = sseTransport({ requests, verify: opts.verify, limits, formatError, hold: opts.hold });
  // A client flooding subscribes on a spent budget: nothing more of its connection is read until the hold ends (one
  // client per WebSocket, so nobody else waits), as its HTTP requests would be answered after the hold.
  const holdSocket = (extra: Extra, socket: WebSocket, ms: number) => {
    socket.pause();
    clearTimeout(extra.resumeTimer);
    extra.resumeTimer = setTimeout(() => socket.resume(), ms);
  };
  const wss = new WebSocketServer({ server: opts.server, path: '/graphql', maxPayload: limits.maxPayloadBytes });
  const extras = new WeakMap<object, Extra>();
  const extraOf = (ctx: { extra: object }): Extra => {
    let e = extras.get(ctx.extra);
    if (!e) {
      e = { running: new Map(), backlog: backlog() };
      extras.set(ctx.extra, e);
    }
    return e;
  };
  const end = (extra: Extra, id: string) => {
    extra.running.get(id)?.slot.release();
    extra.running.delete(id);
  };
  const correlationOf = (extra: Extra, id: string, error: GraphQLError) => {
    const own = error.extensions['correlationId'];
    return extra.running.get(id)?.correlationId ?? (typeof own === 'string' ? own : correlationIdFrom(undefined));
  };

  useServer<Record<string, unknown>, Record<PropertyKey, never>>(
    {
      isProd: production,
      // The root field's stream joins its fan-out group; results go from the group to the socket (wsSink), not
      // through graphql-ws's per-subscriber serialization. Request errors come back as an ExecutionResult.
      subscribe: openStream,
      async onConnect(ctx) {
        const refuse = (reason: string) => {
          ctx.extra.socket.close(CloseCode.Forbidden, reason);
          return false;
        };
        const token = tokenFrom(ctx.connectionParams);
        if (!token) return refuse('Missing token in connection_init payload');
        let principal: Principal;
        try {
          principal = await opts.verify(token);
        } catch {
          return refuse('Invalid token');
        }
        if (ctx.extra.socket.readyState !== ctx.extra.socket.OPEN) return false;
        const extra = extraOf(ctx);
        extra.principal = principal;
        extra.cancelExpiry = at(principal.exp * 1000, () => ctx.extra.socket.close(CloseCode.Forbidden, 'Token expired'));
        return true;
      },
      async onSubscribe(ctx, id, payload) {
        const extra = extraOf(ctx);
        const principal = extra.principal;
        const correlationId = correlationIdFrom(ctx.extra.request.headers[CORRELATION_HEADER]);
        if (!principal) return [fieldError('UNAUTHENTICATED', 'Not authenticated', { correlationId })];
        const own = (r: ExecutionResult) => ({ ...r, errors: r.errors?.map((e) => formatError(e, correlationId)) });
        const prepared = await requests.prepare({
          principal, payload, correlationId, onConnection: extra.running.size, transport: 'WebSocket',
          sink: wsSink(ctx.extra.socket, extra.backlog, id, limits, own),
        });
        if ('errors' in prepared) {
          const hold = holdFor(prepared.errors, opts.hold);
          if (hold > 0) holdSocket(extra, ctx.extra.socket, hold);
          return prepared.errors;
        }
        extra.running.set(id, { slot: prepared.slot, correlationId });
        return prepared.args;
      },
      onOperation(ctx, id, _payload, _args, result) {
        // graphql-ws calls return() synchronously on `complete` and on close; the slot goes back right then, before
        // any later message of the client (possibly in the same TCP read) is handled.
        if (isAsyncGenerator(result)) return onReturn(result, () => end(extraOf(ctx), id));
        return undefined;
      },
      onNext(ctx, id, _payload, _args, result) {
        if (!result.errors?.length) return undefined;
        const extra = extraOf(ctx);
        return { ...result, errors: result.errors.map((e) => formatError(e, correlationOf(extra, id, e))) };
      },
      onError(ctx, id, _payload, errors) {
        const extra = extraOf(ctx);
        return errors.map((e) => formatError(e, correlationOf(extra, id, e)));
      },
      onComplete(ctx, id) {
        end(extraOf(ctx), id);
      },
      onClose(ctx) {
        const extra = extraOf(ctx);
        extra.cancelExpiry?.();
        clearTimeout(extra.resumeTimer);
        for (const id of [...extra.running.keys()]) end(extra, id);
      },
    },
    wss,
    limits.keepAliveMs,
  );
  // graphql-ws prints every socket error with console.error. A message over maxPayloadBytes is the client's doing (ws
  // has already closed the socket with 1009): log it at info through our logger; other errors close with 1011 as
  // graphql-ws does, logged as errors. Registered after useServer, so its own listener is the one replaced.
  wss.on('connection', (socket) => {
    socket.removeAllListeners('error');
    socket.on('error', (err: Error & { code?: string }) => {
      if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
        opts.logger.info({ limit: limits.maxPayloadBytes }, 'WebSocket message over the size limit: closed with 1009');
        return;
      }
      opts.logger.error({ err }, 'WebSocket socket error');
      socket.close(1011, 'Internal server error');
    });
  });

  return {
    stats: () => ({ connections: wss.clients.size + sse.open(), subscriptions: slots.running(), groups: fanout.stats().groups, replays: replays.stats() }),
    updateSchema: (apiSchema) => requests.updateSchema(apiSchema),
    handleHttp: (req, res) => sse.handle(req, res),
    async close() {
      sse.close();
      for (const client of wss.clients) client.close(1001, 'Server shutting down');
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
