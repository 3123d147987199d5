import { randomBytes } from 'node:crypto';
import { InMemoryLRUCache } from '@apollo/utils.keyvaluecache';
import type { Redis } from './redis';

/**
 * Where the gateway's response cache keeps its entries and each tenant's generation: Redis, shared by every gateway
 * instance and the sync workers, or this process's memory without Redis (the embedded `npm start`, one process).
 * Bumping a tenant's generation turns every answer cached for it into a miss (gateway/response-cache.ts); the gateway
 * bumps on mutations, the sync engine when its writes have reached the tenant's systems.
 */
export interface CacheStore {
  /** The tenant's generation and the stored values of `keys`, in one round trip. */
  lookup(tenant: string, keys: readonly string[]): Promise<{ generation: string; values: (string | null)[] }>;
  store(key: string, value: string, ttlSeconds: number): Promise<void>;
  bump(tenant: string): Promise<void>;
}

const ENTRY = 'rc:';
const GENERATION = 'rcgen:';
/**
 * A generation key expires a week after its last bump, so Redis keeps no key forever. What makes that safe: a bump
 * sets a value never used before (not a counter that could count up to an old value again), entries live at most
 * MAX_ENTRY_SECONDS, so when a quiet tenant's generation expires and reads '0' again, the entries once filed under
 * '0' expired long ago.
 */
const GENERATION_SECONDS = 7 * 24 * 3600;
const MAX_ENTRY_SECONDS = 24 * 3600;

function redisStore(redis: Redis): CacheStore {
  return {
    async lookup(tenant, keys) {
      const [generation, ...values] = await redis.mget(GENERATION + tenant, ...keys.map((k) => ENTRY + k));
      return { generation: generation ?? '0', values };
    },
    async store(key, value, ttlSeconds) {
      await redis.set(ENTRY + key, value, 'EX', Math.min(ttlSeconds, MAX_ENTRY_SECONDS));
    },
    async bump(tenant) {
      await redis.set(GENERATION + tenant, `${Date.now().toString(36)}.${randomBytes(6).toString('base64url')}`, 'EX', GENERATION_SECONDS);
    },
  };
}

function memoryStore(): CacheStore {
  const entries = new InMemoryLRUCache<string>({ maxSize: 64 * 1024 * 1024 });
  const generations = new Map<string, number>();
  return {
    async lookup(tenant, keys) {
      const values = await Promise.all(keys.map(async (k) => (await entries.get(k)) ?? null));
      return { generation: String(generations.get(tenant) ?? 0), values };
    },
    async store(key, value, ttlSeconds) {
      await entries.set(key, value, { ttl: ttlSeconds });
    },
    async bump(tenant) {
      generations.set(tenant, (generations.get(tenant) ?? 0) + 1);
    },
  };
}

export function createCacheStore(redis: Redis | undefined): CacheStore {
  return redis ? redisStore(redis) : memoryStore();
}
