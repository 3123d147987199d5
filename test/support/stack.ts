import { SCOPES, type TokenKind } from '../../lib/auth/principal';
import { mintToken } from '../../lib/auth/tokens';
import { type Config, loadConfig } from '../../lib/config';
import { type EventBus, createEventBus } from '../../lib/events';
import { type Logger, createLogger } from '../../lib/logger';
import { createRedis } from '../../lib/redis';
import { SUBGRAPH_NAMES, type SubgraphName } from '../../lib/schema';
import { startGateway } from '../../gateway/server';
import type { SubscriptionLimits } from '../../gateway/subscriptions/server';
import type { ResponseCacheOptions } from '../../gateway/response-cache';
import { type Stack, startStack } from '../../scripts/stack';
import { type GraphQLResponse, postGraphQL } from './http';
import { freshDatabase } from './postgres';
import { TEST_REDIS_URL, testKeyPrefix } from './services';

export const TENANTS = ['acme', 'globex'] as const;
export const ALL_SCOPES = SCOPES.filter((s) => s !== 'admin');

export interface TestStack extends Stack {
  config: Config;
  url: string;
  token(opts?: { tenant?: string; scopes?: readonly string[]; kind?: TokenKind; ttlSeconds?: number; sub?: string }): Promise<string>;
  /** Runs an operation as a user of `tenant` with every scope unless told otherwise. */
  gql<D = Record<string, unknown>>(query: string, variables?: Record<string, unknown>, opts?: { tenant?: string; token?: string; headers?: Record<string, string> }): Promise<GraphQLResponse<D>>;
}

/** The real stack on a fresh Postgres database with seeded tenants, every server on an ephemeral port. */
export async function startTestStack(opts: {
  accounts?: number;
  env?: NodeJS.ProcessEnv;
  /** The one logger every part of the stack writes to (a test capturing the process's log output passes its own). */
  logger?: Logger;
} = {}): Promise<TestStack> {
  const database = await freshDatabase();
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATABASE_URL: database.url,
    REDIS_URL: TEST_REDIS_URL,
    // Parallel test files share one Redis: a prefix per stack keeps their cache and counters apart.
    REDIS_KEY_PREFIX: testKeyPrefix(database.url.split('/').pop() ?? 'x'),
    ...opts.env,
  });
  const stack = await startStack({
    config,
    logger: opts.logger ?? createLogger('silent', 'test'),
    db: database.db,
    seed: { tenants: TENANTS, accounts: opts.accounts ?? 20 },
    ephemeralPorts: true,
  });
  const token: TestStack['token'] = (t = {}) =>
    mintToken(config.jwt, { sub: t.sub ?? 'test-user', tenant: t.tenant ?? 'acme', kind: t.kind ?? 'user', scopes: t.scopes ?? ALL_SCOPES, ttlSeconds: t.ttlSeconds ?? 600 });
  return {
    ...stack,
    config,
    url: stack.gateway.url,
    token,
    async gql(query, variables, o = {}) {
      return postGraphQL(stack.gateway.url, query, { variables, token: o.token ?? (await token({ tenant: o.tenant })), headers: o.headers });
    },
    async stop() {
      await stack.stop();
      await database.drop();
    },
  };
}

export interface Instance {
  url: string;
  /** Its own event bus (Redis pub/sub), when started with `withBus`. */
  bus: EventBus | undefined;
  close(): Promise<void>;
}

/**
 * Another gateway instance on the stack's subgraphs and Redis, with its own Redis connections: what it shares with the
 * stack's gateway goes through Redis, as between two deployed instances.
 */
export async function startInstance(
  stack: TestStack,
  opts: {
    config?: Partial<Config>;
    withBus?: boolean;
    subscriptionLimits?: Partial<SubscriptionLimits>;
    responseCache?: Partial<ResponseCacheOptions>;
    /** Where this instance finds some subgraphs instead of the stack's (a proxy a test can stop). */
    subgraphUrls?: Partial<Record<SubgraphName, string>>;
    logger?: Logger;
    /** The built ops console to serve under /ops/ (none unless given). */
    consoleDir?: string;
  } = {},
): Promise<Instance> {
  const redis = createRedis(stack.config.redisUrl ?? '', stack.config.redisKeyPrefix);
  const bus = opts.withBus ? createEventBus(stack.config.redisUrl, stack.config.redisKeyPrefix) : undefined;
  const subgraphUrls = Object.fromEntries(SUBGRAPH_NAMES.map((n) => [n, opts.subgraphUrls?.[n] ?? stack.subgraphs[n].url])) as Record<SubgraphName, string>;
  const server = await startGateway({
    config: { ...stack.config, ...opts.config }, logger: opts.logger ?? createLogger('silent', 'test'), redis, bus, port: 0, subgraphUrls, subscriptionLimits: opts.subscriptionLimits,
    consoleDir: opts.consoleDir ?? null, responseCache: opts.responseCache,
  });
  return {
    url: server.url,
    bus,
    async close() {
      await server.close();
      await bus?.close();
      redis.disconnect();
    },
  };
}
