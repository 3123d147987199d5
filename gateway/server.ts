import { clientSchemaIntrospectionPlugin } from './introspection';
import type { IncomingMessage } from 'node:http';
// First: must run before @apollo/gateway loads (see the modules).
import './flatten-reexports';
import './operation-memo';
import './response-shaping';
import './node-createhash';
import { ApolloGateway } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { claimsSigner } from '../lib/auth/forwarded';
import { bearerToken, tokenVerifier } from '../lib/auth/tokens';
import type { Config } from '../lib/config';
import { CORRELATION_HEADER, correlationIdFrom } from '../lib/correlation';
import { errorFormatter } from '../lib/format-error';
import type { GraphQLFormattedError } from 'graphql';
import { auditPlugin } from './audit';
import { DEFAULT_OPERATION_LIMITS, operationLimitsPlugin, tokenLimitCode } from './operation-limits';
import { partnerAllowlists, partnerDocumentRule, trustedDocumentsPlugin, trustedLists } from './trusted-documents';
import { heldAnswers } from '../lib/http/held-answers';
import { type RunningServer, graphqlHttpHandler, listen } from '../lib/http/server';
import type { Logger } from '../lib/logger';
import type { Redis } from '../lib/redis';
import type { EventBus } from '../lib/events';
import type { GraphQLSchema } from 'graphql';
import { type SubscriptionLimits, type SubscriptionServer, attachSubscriptions, subscriptionLimits } from './subscriptions/server';
import { type SubgraphName, readSupergraph } from '../lib/schema';
import type { GatewayContext } from './context';
import { correlationPlugin } from './correlation-plugin';
import { responseStatusPlugin } from './response-status';
import { unresolvedReferencesPlugin } from './unresolved-references';
import { idempotencyPlugin } from './idempotency';
import { mutationScopes } from './root-fields';
import type { Db } from '../lib/db/db';
import { subgraphDataSource } from './data-sources';
import { rateLimitSettings, rateLimits } from './rate-limit';
import { tenantFairness } from './fairness';
import { costModel } from './cost-model';
import { type ResponseCacheOptions, responseCache, spliceCachedData } from './response-cache';
import { type CacheStore, createCacheStore } from '../lib/response-cache-store';
import { keepAliveHttp } from './subgraph-fetcher';
import { requestTelemetryPlugin } from './request-telemetry';
import { tracingPlugin } from './tracing-plugin';
import { measuredDataSource } from './subgraph-metrics';
import { tracedHttp } from '../lib/telemetry/http';
import { webhookForwarder, withWebhooks } from './webhook-forward';
import { refusalsHeld, reportSubscriptions } from '../lib/telemetry/gateway-metrics';
import { defaultConsoleDir, opsConsoleHandler } from './ops-console';

export interface GatewayOptions {
  config: Config;
  logger: Logger;
  /** Subgraph URLs by name (defaults to config.subgraphUrls). */
  subgraphUrls?: Record<SubgraphName, string>;
  port?: number;
  /** Shared state between gateway instances (cache, rate limits); in-memory equivalents without it. */
  redis?: Redis;
  /** Where sync status events arrive (Redis pub/sub across instances); subscriptions are off without it. */
  bus?: EventBus;
  /** Durable store for Idempotency-Key (mutations) and the audit log; without it the header is ignored and nothing is audited. */
  db?: Db;
  /** The response cache's store, shared with the sync engine in this process; created from `redis` otherwise. */
  cacheStore?: CacheStore;
  /** Overrides of the response cache's options (its clock, in tests). */
  responseCache?: Partial<ResponseCacheOptions>;
  /** Overrides of the WebSocket limits (DEFAULT_SUBSCRIPTION_LIMITS). */
  subscriptionLimits?: Partial<SubscriptionLimits>;
  /** The built ops console served under /ops/ (defaults to defaultConsoleDir(); null serves none). */
  consoleDir?: string | null;
}

/** The experience API: the composed supergraph behind JWT auth. */
export async function startGateway(opts: GatewayOptions): Promise<RunningServer> {
  const { config, logger } = opts;
  const urls = opts.subgraphUrls ?? config.subgraphUrls;
  const operationLimits = { ...DEFAULT_OPERATION_LIMITS, introspectionForAdminsOnly: config.production };
  const wsLimits = subscriptionLimits({ ...config.subscriptionLimits, ...opts.subscriptionLimits });
  const http = keepAliveHttp({ dedup: config.subgraphDedup });
  const signClaims = claimsSigner(config.internalSecret);
  const limitSettings = rateLimitSettings(config.rateLimits);
  const supergraphSdl = readSupergraph();
  const verify = tokenVerifier(config.jwt);
  // Fair share and limits refer to each other: the limiter admits by cost into the tenant's share (called per
  // request, once both exist), and the share's early refusals read the limiter's view.
  const limits = rateLimits(limitSettings, opts.redis, {
    model: costModel(supergraphSdl), mode: config.costMode, admit: async (ctx, cost) => (ctx.admission ? share.admitCost(ctx.admission, cost) : undefined),
  });
  const share = tenantFairness({
    maxConcurrentPerTenant: limitSettings.maxConcurrentPerTenant, maxInFlightCostPerTenant: limitSettings.maxInFlightCostPerTenant,
    maxQueuedPerTenant: limitSettings.maxQueuedPerTenant, maxQueueWaitMs: limitSettings.maxQueueWaitMs,
    knownSpent: limits.knownSpent, knownSpentNow: limits.knownSpentNow, peekToken: verify.peek, refusalHoldMs: limitSettings.refusalHoldMs,
  });
  const heldRefusals = heldAnswers(limitSettings.maxHeldRefusals, (n) => refusalsHeld.set(n));
  const partnerLists = trustedLists({ env: partnerAllowlists(config.partnerOperations), db: opts.db });
  const partnerDocuments = partnerDocumentRule(partnerLists, { requireAllowlist: config.partnerAllowlistRequired });
  disableApolloTelemetryByDefault();
  const gateway = new ApolloGateway({
    supergraphSdl,
    buildService: ({ name }) => {
      const url = urls[name as SubgraphName];
      if (!url) throw new Error(`No URL configured for subgraph "${name}"`);
      return measuredDataSource(name, subgraphDataSource(name, url, { http, signClaims }));
    },
    logger,
  });
  const apollo = new ApolloServer<GatewayContext>({
    gateway,
    logger,
    // The composition root owns shutdown (drain HTTP, stop workers, close pools); Apollo must not exit on signals.
    stopOnTerminationSignals: false,
    plugins: [
      tracingPlugin(),
      requestTelemetryPlugin({ logger, responseCache: config.responseCache }),
      correlationPlugin(),
      responseStatusPlugin(),
      operationLimitsPlugin(operationLimits),
      trustedDocumentsPlugin(partnerDocuments, partnerLists),
      limits.plugin,
      clientSchemaIntrospectionPlugin(),
      // Before the plugins that store the response (idempotency, cache): they must store what the client gets.
      unresolvedReferencesPlugin(),
      ...(opts.db ? [idempotencyPlugin(opts.db, logger, mutationScopes(supergraphSdl)), auditPlugin(opts.db, logger)] : []),
      ...(config.responseCache
        ? [responseCache(opts.cacheStore ?? createCacheStore(opts.redis, { invalidation: config.responseCacheInvalidation }), logger, { staleIfError: config.responseCacheStaleIfError, ...opts.responseCache })]
        : []),
      ...(config.production ? [ApolloServerPluginLandingPageDisabled()] : []),
    ],
    formatError: gatewayErrorFormatter(config, logger),
    includeStacktraceInErrorResponses: config.debugErrors,
    // Introspection stays on so admins can use it; operationLimitsPlugin refuses it to everyone else in production.
    introspection: true,
    hideSchemaDetailsFromClientErrors: config.production,
    parseOptions: { maxTokens: operationLimits.maxTokens },
    csrfPrevention: true,
    allowBatchedHttpRequests: false,
  });
  let subscriptions: SubscriptionServer | null = null;
  let apiSchema: GraphQLSchema | null = null;
  gateway.onSchemaLoadOrUpdate((update) => {
    apiSchema = update.apiSchema;
    subscriptions?.updateSchema(update.apiSchema);
  });
  await apollo.start();

  const context = async (req: IncomingMessage): Promise<GatewayContext> => {
    const principal = await verify(bearerToken(req.headers.authorization));
    const admission = { cost: 0 };
    const context: GatewayContext = { principal, correlationId: correlationIdFrom(req.headers[CORRELATION_HEADER]), cacheSplice: {}, admission };
    // Before Apollo parses, validates and plans anything: a spent principal or a tenant at its cap costs next to nothing.
    await share.enter(principal, admission);
    return context;
  };
  // Not ready without a supergraph; without Redis still ready, reported degraded (local cache bypass and limits).
  const ready = async () => ({
    ready: apiSchema !== null,
    checks: { supergraph: apiSchema ? 'ok' : 'missing', ...(opts.redis ? { redis: opts.redis.status === 'ready' ? 'ok' : 'degraded' } : {}) },
  });
  const graphql = graphqlHttpHandler({
    apollo, context, ready, finishBody: spliceCachedData, finished: (ctx) => share.leave(ctx?.admission),
    preflight: (req) => share.refuseEarly(req.headers.authorization), held: heldRefusals,
  });
  const api = withWebhooks(webhookForwarder({ syncBaseUrl: urls.sync.replace(/\/graphql$/, ''), logger }), graphql);
  const opsConsole = opsConsoleHandler(opts.consoleDir === undefined ? defaultConsoleDir() : opts.consoleDir);
  const handler = tracedHttp('gateway', async (req, res) => (opsConsole(req, res) ? undefined : api(req, res)));
  const unreport = reportSubscriptions(() => subscriptions?.stats() ?? { connections: 0, subscriptions: 0, groups: 0 });
  // GraphQL over SSE (gateway/subscriptions/sse.ts) on its own path, once subscriptions are attached.
  const serve: typeof handler = async (req, res) => {
    if (subscriptions?.handleHttp(req, res)) return;
    await handler(req, res);
  };
  const running = await listen(serve, config.host, opts.port ?? config.ports.gateway, {
    beforeClose: async () => {
      heldRefusals.release();
      unreport();
      await subscriptions?.close();
    },
    afterClose: async () => {
      await apollo.stop();
      await http.close();
    },
  });
  if (opts.bus) {
    subscriptions = attachSubscriptions({
      server: running.server, apollo, bus: opts.bus, verify, logger, limits: wsLimits, operationLimits, partnerDocuments, charge: limits.charge,
      hold: { holdMs: limitSettings.refusalHoldMs, held: heldRefusals }, production: config.production,
    });
    if (apiSchema) subscriptions.updateSchema(apiSchema);
  }
  return running;
}

/**
 * @apollo/gateway, unless APOLLO_TELEMETRY_DISABLED is set, builds a meter provider that exports usage data to Apollo's
 * servers and, to describe the host, queries the AWS, GCP, Azure and Alibaba metadata endpoints (169.254.169.254) at
 * construction. A self-hosted gateway sends nothing to a third party unless asked, and those lookups outlived the
 * tests that created gateways (jest's "worker failed to exit gracefully", GCP MetadataLookupWarning on stderr).
 * `APOLLO_TELEMETRY_DISABLED=false` turns Apollo's collection back on.
 */
function disableApolloTelemetryByDefault(): void {
  process.env['APOLLO_TELEMETRY_DISABLED'] ??= 'true';
}

/** The shared formatter (masked errors logged), plus a code of its own for the parser's token limit. */
function gatewayErrorFormatter(config: Config, logger: Logger) {
  const base = errorFormatter({
    production: config.production,
    debug: config.debugErrors,
    onMasked: ({ stack, ...masked }) => logger.error({ ...masked, err: { message: masked.message, stack } }, 'masked error'),
  });
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const code = tokenLimitCode(formatted.message);
    return base(code ? { ...formatted, extensions: { ...formatted.extensions, code } } : formatted, error);
  };
}
