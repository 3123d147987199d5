import type { Server } from 'node:http';
import type { ApolloServer } from '@apollo/server';
import { type ExecutionArgs, type ExecutionResult, GraphQLError, type GraphQLSchema, getOperationAST, getVariableValues } from 'graphql';
import { CloseCode } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { z } from 'zod';
import type { Principal } from '../../lib/auth/principal';
import { CORRELATION_HEADER, correlationIdFrom } from '../../lib/correlation';
import { type ErrorCode, fieldError } from '../../lib/errors';
import type { EventBus } from '../../lib/events';
import type { Logger } from '../../lib/logger';
import type { GatewayContext } from '../context';
import type { OperationLimits } from '../operation-limits';
import { type PartnerDocumentRule, derivedExecution, documentHash } from '../trusted-documents';
import { type DocumentChecker, documentChecker } from './documents';
import { wsErrorFormatter } from './errors';
import { at } from './expiry';
import { type ExecuteAsSubscriber, aliasAwareFieldResolver } from './federated';
import { type SubscriptionContext, buildSubscriptionSchema } from './schema';
import { type Slot, subscriptionSlots } from './slots';

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
    /** Live events buffered per subscription before it is dropped as a slow consumer. @default 1000 */
    maxBuffered: z.number().int().positive(),
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
  perConnection: 25, perPrincipal: 100, perTenant: 5000, maxBuffered: 1000, keepAliveMs: 12_000, maxPayloadBytes: 1024 * 1024, documentCacheBytes: 8 * 1024 * 1024,
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
  /** The HTTP endpoint's partner rule (trusted documents), applied to each subscribe document before it is parsed. */
  partnerDocuments: PartnerDocumentRule;
  production: boolean;
}

interface Running {
  slot: Slot;
  correlationId: string;
}

interface Extra {
  principal?: Principal;
  cancelExpiry?: () => void;
  /** This connection's subscriptions that hold a slot, by id. */
  running: Map<string, Running>;
}

export interface SubscriptionServer {
  /** Swaps in a schema built on the gateway's new API schema (called on every supergraph load or update). */
  updateSchema(apiSchema: GraphQLSchema): void;
  /** Open connections and running subscriptions (the /metrics gauges). */
  stats(): { connections: number; subscriptions: number };
  close(): Promise<void>;
}

/** Longer than any real token (Node's own header limit is 16 KiB): refused without being decoded. */
const MAX_TOKEN_CHARS = 16 * 1024;

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


/**
 * graphql-ws on the gateway's own HTTP server and path. Messages above `maxPayloadBytes` close the socket (1009)
 * before they are read. connection_init authenticates; a missing, bad or expired token closes with 4403, which
 * clients retry with fresh `connectionParams` (4401 would end them for good). Each subscribe is checked with the HTTP
 * document limits and the partner rule, its root field authorized from the policy table as graphql-js executes it (schema.ts), and
 * bounded per connection, per token subject and per tenant; a slot is released the moment the subscription ends.
 */
export function attachSubscriptions(opts: SubscriptionServerOptions): SubscriptionServer {
  const { limits, production } = opts;
  let current: { schema: GraphQLSchema; documents: DocumentChecker } | null = null;
  const slots = subscriptionSlots(limits);
  const formatError = wsErrorFormatter(production, opts.logger);
  const wss = new WebSocketServer({ server: opts.server, path: '/graphql', maxPayload: limits.maxPayloadBytes });
  const extras = new WeakMap<object, Extra>();
  const extraOf = (ctx: { extra: object }): Extra => {
    let e = extras.get(ctx.extra);
    if (!e) {
      e = { running: new Map() };
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

  const executeAs = (principal: Principal, correlationId: string): ExecuteAsSubscriber => async (query, variables) => {
    // Generated from the subscriber's admitted document: marked so the partner rule does not refuse it.
    const contextValue = { principal, correlationId, derived: derivedExecution(query) };
    const response = await opts.apollo.executeOperation({ query, variables }, { contextValue });
    if (response.body.kind !== 'single') return { errors: [{ message: 'unexpected incremental response' }] };
    return { data: response.body.singleResult.data ?? null, errors: response.body.singleResult.errors };
  };

  useServer<Record<string, unknown>, Record<PropertyKey, never>>(
    {
      isProd: production,
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
      async onSubscribe(ctx, id, payload): Promise<ExecutionArgs | readonly GraphQLError[]> {
        const extra = extraOf(ctx);
        const principal = extra.principal;
        const correlationId = correlationIdFrom(ctx.extra.request.headers[CORRELATION_HEADER]);
        // Copies: checked documents' errors are cached and shared.
        const refuse = (errors: readonly GraphQLError[]) =>
          errors.map((e) => new GraphQLError(e.message, { nodes: e.nodes, extensions: { ...e.extensions, correlationId } }));
        if (!principal) return refuse([fieldError('UNAUTHENTICATED', 'Not authenticated')]);
        const loaded = current;
        if (!loaded) return refuse([fieldError('UPSTREAM_UNAVAILABLE', 'Schema not loaded yet')]);
        // A partner may only send its registered documents: checked on the raw text, before anything is parsed.
        const notAllowed = opts.partnerDocuments(principal, documentHash(payload.query));
        if (notAllowed) return refuse([notAllowed]);
        const checked = await loaded.documents.check(payload.query);
        if ('errors' in checked) return refuse(checked.errors);
        const { document } = checked;
        const operation = getOperationAST(document, payload.operationName);
        if (!operation) return refuse([fieldError('BAD_REQUEST', 'Unable to identify the operation: name it with operationName')]);
        if (operation.operation !== 'subscription') return refuse([fieldError('BAD_REQUEST', 'Only subscriptions are served over WebSocket; send queries and mutations over HTTP')]);
        const variables = getVariableValues(loaded.schema, operation.variableDefinitions ?? [], payload.variables ?? {}, { maxErrors: 10, hideSuggestions: production });
        if (variables.errors) {
          return refuse(variables.errors.map((e) => new GraphQLError(e.message, { nodes: e.nodes, extensions: { code: 'BAD_USER_INPUT' satisfies ErrorCode } })));
        }
        const slot = slots.acquire(principal, extra.running.size);
        if (slot instanceof GraphQLError) return refuse([slot]);
        extra.running.set(id, { slot, correlationId });
        const contextValue: SubscriptionContext = {
          principal,
          execute: executeAs(principal, correlationId),
          bus: opts.bus,
          maxBuffered: limits.maxBuffered,
          dropSlowConsumer: () => ctx.extra.socket.close(SLOW_CONSUMER_CLOSE_CODE, 'Slow consumer: too many undelivered events'),
        };
        return {
          schema: loaded.schema, document, operationName: payload.operationName ?? undefined, variableValues: payload.variables ?? undefined,
          contextValue, fieldResolver: aliasAwareFieldResolver, hideSuggestions: production,
        };
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
        for (const id of [...extra.running.keys()]) end(extra, id);
      },
    },
    wss,
    limits.keepAliveMs,
  );

  return {
    stats: () => ({ connections: wss.clients.size, subscriptions: slots.running() }),
    updateSchema(apiSchema) {
      try {
        const schema = buildSubscriptionSchema(apiSchema);
        current = {
          schema,
          documents: documentChecker(schema, { limits: opts.operationLimits, cacheBytes: limits.documentCacheBytes, hideSuggestions: production }),
        };
      } catch (err) {
        opts.logger.error({ err }, 'could not build the subscription schema');
      }
    },
    async close() {
      for (const client of wss.clients) client.close(1001, 'Server shutting down');
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
