import type { ApolloServerPlugin } from '@apollo/server';
import responseCachePlugin from '@apollo/server-plugin-response-cache';
import { ErrorsAreMissesCache, InMemoryLRUCache, type KeyValueCache } from '@apollo/utils.keyvaluecache';
import type { Logger } from '../lib/logger';
import type { Redis } from '../lib/redis';
import type { GatewayContext } from './context';
import { IoRedisKeyValueCache } from './redis-cache';

/**
 * Tenant-safe response caching. Cache keys carry the tenant, the caller's scope set and the tenant's cache
 * generation; any write in the tenant (a mutation through the gateway or a sync step) bumps the generation, so a
 * client never reads its own write stale and no entry is ever served across tenants or scope sets.
 *
 * The generation is coarse on purpose: it evicts every cached response of the tenant, a superset of the responses
 * that contained the written entity, which keeps invalidation exact without tracking entity ids per response.
 */
export interface CacheGenerations {
  current(tenant: string): Promise<string>;
  bump(tenant: string): Promise<void>;
}

export function cacheGenerations(redis: Redis | undefined): CacheGenerations {
  if (!redis) {
    const local = new Map<string, number>();
    return {
      current: async (t) => String(local.get(t) ?? 0),
      bump: async (t) => void local.set(t, (local.get(t) ?? 0) + 1),
    };
  }
  return {
    // While Redis is down the cache is bypassed anyway (errors are misses); `down` keeps keys from colliding.
    current: async (t) => (await redis.get(`rcgen:${t}`).catch(() => 'down')) ?? '0',
    bump: async (t) => void (await redis.incr(`rcgen:${t}`).catch(() => undefined)),
  };
}

export function responseCache(redis: Redis | undefined, generations: CacheGenerations, logger: Logger): ApolloServerPlugin<GatewayContext>[] {
  const store: KeyValueCache<string> = redis
    ? new ErrorsAreMissesCache(new IoRedisKeyValueCache(redis), logger)
    : new InMemoryLRUCache<string>({ maxSize: 64 * 1024 * 1024 });
  // One generation read per request, reused for the cache read and write: reading it twice could file a response
  // computed before a write under the generation that came after it.
  const generationOf = new WeakMap<GatewayContext, Promise<string>>();
  const generation = (ctx: GatewayContext) => {
    const existing = generationOf.get(ctx);
    if (existing) return existing;
    const fresh = generations.current(ctx.principal.tenant);
    generationOf.set(ctx, fresh);
    return fresh;
  };
  const identity = (ctx: GatewayContext) => `${ctx.principal.tenant}|${[...ctx.principal.scopes].sort().join(' ')}`;

  const cachePlugin = responseCachePlugin<GatewayContext>({
    cache: store,
    sessionId: async ({ contextValue }) => `${identity(contextValue)}|${contextValue.principal.sub}`,
    extraCacheKeyData: async ({ contextValue }) => `${identity(contextValue)}|g${await generation(contextValue)}`,
  });

  const marker: ApolloServerPlugin<GatewayContext> = {
    async requestDidStart() {
      return {
        async willSendResponse({ response, metrics, operation, contextValue }) {
          if (operation?.operation === 'mutation') {
            // Writes are never cached and invalidate what the tenant had cached (even a partly failed mutation may
            // have written something).
            await generations.bump(contextValue.principal.tenant);
            return;
          }
          response.http.headers.set('x-cache', metrics.responseCacheHit ? 'HIT' : 'MISS');
        },
      };
    },
  };
  return [cachePlugin, marker];
}
