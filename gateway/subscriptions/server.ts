import type { Server } from 'node:http';
import type { ApolloServer } from '@apollo/server';
import { type DocumentNode, type ExecutionArgs, GraphQLError, type GraphQLSchema, Kind, type OperationDefinitionNode, parse, validate } from 'graphql';
import { CloseCode } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { Principal } from '../../lib/auth/principal';
import { correlationIdFrom } from '../../lib/correlation';
import type { EventBus } from '../../lib/events';
import type { Logger } from '../../lib/logger';
import type { GatewayContext } from '../context';
import { type ExecuteAsSubscriber, aliasAwareFieldResolver } from './federated';
import { SUBSCRIPTION_SCOPES, type SubscriptionContext, buildSubscriptionSchema } from './schema';

/** Close code for a subscriber that cannot keep up (its undelivered events exceeded the limit). */
export const SLOW_CONSUMER_CLOSE_CODE = 4008;

export interface SubscriptionLimits {
  /** @default 25 */
  perConnection: number;
  /** Concurrent subscriptions of one tenant on this instance. @default 5000 */
  perTenant: number;
  /** Live events buffered per subscription before it is dropped as a slow consumer. @default 1000 */
  maxBuffered: number;
  /** Keep-alive ping interval (ms). @default 12000 */
  keepAliveMs: number;
}

export const DEFAULT_SUBSCRIPTION_LIMITS: SubscriptionLimits = { perConnection: 25, perTenant: 5000, maxBuffered: 1000, keepAliveMs: 12_000 };

export interface SubscriptionServerOptions {
  server: Server;
  apollo: ApolloServer<GatewayContext>;
  bus: EventBus;
  verify: (token: string) => Promise<Principal>;
  logger: Logger;
  limits: SubscriptionLimits;
  production: boolean;
}

interface Extra {
  principal?: Principal;
  expiry?: NodeJS.Timeout;
  /** Ids of this connection's running subscriptions: each is released exactly once (complete or close). */
  active: Set<string>;
}

export interface SubscriptionServer {
  /** Swaps in a schema built on the gateway's new API schema (called on every supergraph load or update). */
  updateSchema(apiSchema: GraphQLSchema): void;
  /** Open connections and running subscriptions (the /metrics gauges). */
  stats(): { connections: number; subscriptions: number };
  close(): Promise<void>;
}

function tokenFrom(params: Readonly<Record<string, unknown>> | undefined): string | null {
  const raw = params?.['authorization'] ?? params?.['Authorization'] ?? params?.['token'];
  if (typeof raw !== 'string') return null;
  return raw.replace(/^Bearer\s+/i, '');
}

/**
 * graphql-ws on the gateway's own HTTP server and path: authenticates on connection_init (4401 on a missing, bad or
 * expired token), authorises each subscribe by scope, closes the socket when the token expires, and bounds subscriptions
 * per connection and per tenant. Events come from tenant channels on the event bus.
 */
export function attachSubscriptions(opts: SubscriptionServerOptions): SubscriptionServer {
  const { limits } = opts;
  let schema: GraphQLSchema | null = null;
  const perTenant = new Map<string, number>();
  const wss = new WebSocketServer({ server: opts.server, path: '/graphql' });
  const extras = new WeakMap<object, Extra>();
  const extraOf = (ctx: { extra: object }): Extra => {
    let e = extras.get(ctx.extra);
    if (!e) {
      e = { active: new Set() };
      extras.set(ctx.extra, e);
    }
    return e;
  };

  const executeAs = (principal: Principal): ExecuteAsSubscriber => async (query, variables) => {
    const response = await opts.apollo.executeOperation(
      { query, variables },
      { contextValue: { principal, correlationId: correlationIdFrom(undefined) } },
    );
    if (response.body.kind !== 'single') return { errors: [{ message: 'unexpected incremental response' }] };
    return { data: response.body.singleResult.data ?? null, errors: response.body.singleResult.errors };
  };

  // Dashboards open thousands of identical subscriptions: parse and validate each query text once per schema.
  const checkedDocuments = new WeakMap<GraphQLSchema, Map<string, { document: DocumentNode } | { errors: readonly GraphQLError[] }>>();
  const checkDocument = (s: GraphQLSchema, query: string): { document: DocumentNode } | { errors: readonly GraphQLError[] } => {
    let cache = checkedDocuments.get(s);
    if (!cache) {
      cache = new Map();
      checkedDocuments.set(s, cache);
    }
    const hit = cache.get(query);
    if (hit) return hit;
    let result: { document: DocumentNode } | { errors: readonly GraphQLError[] };
    try {
      const document = parse(query);
      const errors = validate(s, document);
      result = errors.length
        ? { errors: errors.map((e) => new GraphQLError(e.message, { nodes: e.nodes, extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } })) }
        : { document };
    } catch (err) {
      result = { errors: [new GraphQLError(err instanceof Error ? err.message : 'Syntax error', { extensions: { code: 'GRAPHQL_PARSE_FAILED' } })] };
    }
    if (cache.size >= 1000) cache.clear();
    cache.set(query, result);
    return result;
  };

  const release = (tenant: string) => perTenant.set(tenant, Math.max(0, (perTenant.get(tenant) ?? 1) - 1));

  useServer<Record<string, unknown>, Record<PropertyKey, never>>(
    {
      isProd: opts.production,
      async onConnect(ctx) {
        const token = tokenFrom(ctx.connectionParams);
        if (!token) {
          ctx.extra.socket.close(CloseCode.Unauthorized, 'Missing token in connection_init payload');
          return false;
        }
        try {
          const principal = await opts.verify(token);
          const extra = extraOf(ctx);
          extra.principal = principal;
          const ms = principal.exp * 1000 - Date.now();
          extra.expiry = setTimeout(() => ctx.extra.socket.close(CloseCode.Unauthorized, 'Token expired'), Math.max(0, ms));
          extra.expiry.unref();
          return true;
        } catch {
          ctx.extra.socket.close(CloseCode.Unauthorized, 'Invalid token');
          return false;
        }
      },
      async onSubscribe(ctx, id, payload): Promise<ExecutionArgs | readonly GraphQLError[]> {
        const extra = extraOf(ctx);
        const principal = extra.principal;
        if (!principal) return [new GraphQLError('Not authenticated', { extensions: { code: 'UNAUTHENTICATED' } })];
        if (!schema) return [new GraphQLError('Schema not loaded yet', { extensions: { code: 'UPSTREAM_UNAVAILABLE' } })];
        const checked = checkDocument(schema, payload.query);
        if ('errors' in checked) return checked.errors;
        const document = checked.document;
        const operation = document.definitions.find(
          (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION && (!payload.operationName || d.name?.value === payload.operationName),
        );
        if (operation?.operation !== 'subscription') {
          return [new GraphQLError('Only subscriptions are served over WebSocket; send queries and mutations over HTTP', { extensions: { code: 'BAD_REQUEST' } })];
        }
        for (const sel of operation.selectionSet.selections) {
          if (sel.kind !== Kind.FIELD || sel.name.value.startsWith('__')) continue;
          const scope = SUBSCRIPTION_SCOPES[sel.name.value];
          if (!scope || !principal.scopes.has(scope)) {
            return [new GraphQLError(`Requires scope ${scope ?? 'unknown'}`, { extensions: { code: 'FORBIDDEN' } })];
          }
        }
        if (extra.active.size >= limits.perConnection) {
          return [new GraphQLError(`At most ${limits.perConnection} subscriptions per connection`, { extensions: { code: 'SUBSCRIPTION_LIMIT' } })];
        }
        if ((perTenant.get(principal.tenant) ?? 0) >= limits.perTenant) {
          return [new GraphQLError(`At most ${limits.perTenant} subscriptions per tenant`, { extensions: { code: 'SUBSCRIPTION_LIMIT' } })];
        }
        extra.active.add(id);
        perTenant.set(principal.tenant, (perTenant.get(principal.tenant) ?? 0) + 1);
        const contextValue: SubscriptionContext = {
          tenant: principal.tenant,
          execute: executeAs(principal),
          bus: opts.bus,
          maxBuffered: limits.maxBuffered,
          dropSlowConsumer: () => ctx.extra.socket.close(SLOW_CONSUMER_CLOSE_CODE, 'Slow consumer: too many undelivered events'),
        };
        return { schema, document, operationName: payload.operationName ?? undefined, variableValues: payload.variables ?? undefined, contextValue, fieldResolver: aliasAwareFieldResolver };
      },
      onComplete(ctx, id) {
        const extra = extraOf(ctx);
        if (extra.active.delete(id) && extra.principal) release(extra.principal.tenant);
      },
      onClose(ctx) {
        const extra = extraOf(ctx);
        if (extra.expiry) clearTimeout(extra.expiry);
        if (extra.principal) for (const _ of extra.active) release(extra.principal.tenant);
        extra.active.clear();
      },
    },
    wss,
    limits.keepAliveMs,
  );

  return {
    stats: () => ({ connections: wss.clients.size, subscriptions: [...perTenant.values()].reduce((a, b) => a + b, 0) }),
    updateSchema(apiSchema) {
      try {
        schema = buildSubscriptionSchema(apiSchema);
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
