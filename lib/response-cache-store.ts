import { InMemoryLRUCache } from '@apollo/utils.keyvaluecache';
import { WHOLE_TENANT, type WrittenEntity, evictionTags } from './cache-tags';
import type { Redis } from './redis';

/**
 * Where the gateway's response cache keeps its entries and their tags: Redis, shared by every gateway instance and
 * the sync workers, or this process's memory without Redis (the embedded `npm start`, one process).
 *
 * Each entry is filed under tags (lib/cache-tags.ts: the entities it holds, its lists...); a write evicts the entries
 * of the tags it touched, in the writer's tenant only. Race-free against answers computed before a write and stored
 * after it: each tenant has a write sequence, an eviction stamps its tags with the new sequence number (for
 * MARK_TTL_SECONDS), and an entry is stored only if none of its tags was stamped after the sequence number its request
 * read at lookup. Eviction and store are each one Lua script, so nothing interleaves with them.
 *
 * `invalidation: 'tenant'` is the coarse mode (every write evicts every answer of its tenant), kept for comparison.
 */
export interface CacheStore {
  /** The tenant's write sequence and the stored values of `keys`, in one round trip. */
  lookup(tenant: string, keys: readonly string[]): Promise<{ seq: number; values: (string | null)[] }>;
  /** Stores unless a tag was evicted after `seenSeq`; resolves whether it stored. */
  store(tenant: string, key: string, value: string, ttlSeconds: number, tags: readonly string[], seenSeq: number): Promise<boolean>;
  /** Evicts the tenant's answers that the writes may have changed; resolves how many entries went. */
  evict(tenant: string, written: readonly (WrittenEntity | typeof WHOLE_TENANT)[]): Promise<number>;
}

export type Invalidation = 'entity' | 'tenant';

/** How long an eviction's stamp guards against late stores: longer than any request runs. */
const MARK_TTL_SECONDS = 120;
/** The sequence outlives every stamp; reset after a quiet day, when no stamp is left to compare with. */
const SEQ_TTL_SECONDS = 86_400;

// {tenant} is a Redis Cluster hash tag: a tenant's entries, tag sets, stamps and sequence share a slot.
const seqKey = (tenant: string) => `rc:{${tenant}}:seq`;
const entryKey = (tenant: string, key: string) => `rc:{${tenant}}:e:${key}`;
const setKey = (tenant: string, tag: string) => `rc:{${tenant}}:s:${tag}`;
const markKey = (tenant: string, tag: string) => `rc:{${tenant}}:m:${tag}`;

/** KEYS: entry, n tag sets, n stamps. ARGV: value, ttl, seenSeq. */
const STORE = `
local n = (#KEYS - 1) / 2
local seen = tonumber(ARGV[3])
for i = 1, n do
  local m = redis.call('GET', KEYS[1 + n + i])
  if m and tonumber(m) > seen then return 0 end
end
local ttl = tonumber(ARGV[2])
redis.call('SET', KEYS[1], ARGV[1], 'EX', ttl)
for i = 1, n do
  local s = KEYS[1 + i]
  redis.call('SADD', s, KEYS[1])
  if redis.call('TTL', s) < ttl then redis.call('EXPIRE', s, ttl) end
end
return 1`;

/** KEYS: sequence, n tag sets, n stamps. ARGV: stamp ttl, sequence ttl. */
const EVICT = `
local seq = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
local n = (#KEYS - 1) / 2
local evicted = 0
for i = 1, n do
  redis.call('SET', KEYS[1 + n + i], seq, 'EX', ARGV[1])
  local members = redis.call('SMEMBERS', KEYS[1 + i])
  for _, k in ipairs(members) do evicted = evicted + redis.call('DEL', k) end
  redis.call('DEL', KEYS[1 + i])
end
return evicted`;

const tagsOf = (invalidation: Invalidation, written: readonly (WrittenEntity | typeof WHOLE_TENANT)[]) =>
  invalidation === 'tenant' ? [WHOLE_TENANT] : evictionTags(written);

function redisStore(redis: Redis, invalidation: Invalidation): CacheStore {
  return {
    async lookup(tenant, keys) {
      const [seq, ...values] = await redis.mget(seqKey(tenant), ...keys.map((k) => entryKey(tenant, k)));
      return { seq: Number(seq ?? 0), values };
    },
    async store(tenant, key, value, ttlSeconds, tags, seenSeq) {
      const keys = [entryKey(tenant, key), ...tags.map((t) => setKey(tenant, t)), ...tags.map((t) => markKey(tenant, t))];
      return (await redis.eval(STORE, keys.length, ...keys, value, ttlSeconds, seenSeq)) === 1;
    },
    async evict(tenant, written) {
      const tags = tagsOf(invalidation, written);
      if (!tags.length) return 0;
      const keys = [seqKey(tenant), ...tags.map((t) => setKey(tenant, t)), ...tags.map((t) => markKey(tenant, t))];
      return Number(await redis.eval(EVICT, keys.length, ...keys, MARK_TTL_SECONDS, SEQ_TTL_SECONDS));
    },
  };
}

/** The same contract in one process: JavaScript runs each method's bookkeeping without interleaving. */
function memoryStore(invalidation: Invalidation): CacheStore {
  const entries = new InMemoryLRUCache<string>({ maxSize: 64 * 1024 * 1024 });
  const sets = new Map<string, Set<string>>();
  const marks = new Map<string, { seq: number; until: number }>();
  const seqs = new Map<string, number>();
  /** Tag sets keep keys of entries the LRU dropped; past this many members in all, start again empty. */
  const MAX_MEMBERS = 200_000;
  let members = 0;
  return {
    async lookup(tenant, keys) {
      const values = await Promise.all(keys.map(async (k) => (await entries.get(entryKey(tenant, k))) ?? null));
      return { seq: seqs.get(tenant) ?? 0, values };
    },
    async store(tenant, key, value, ttlSeconds, tags, seenSeq) {
      const now = Date.now();
      for (const t of tags) {
        const m = marks.get(markKey(tenant, t));
        if (m && m.until > now && m.seq > seenSeq) return false;
      }
      if (members > MAX_MEMBERS) {
        entries.clear();
        sets.clear();
        members = 0;
      }
      const k = entryKey(tenant, key);
      for (const t of tags) {
        const s = sets.get(setKey(tenant, t)) ?? new Set<string>();
        if (!s.has(k)) members += 1;
        sets.set(setKey(tenant, t), s.add(k));
      }
      await entries.set(k, value, { ttl: ttlSeconds });
      return true;
    },
    async evict(tenant, written) {
      const tags = tagsOf(invalidation, written);
      if (!tags.length) return 0;
      const seq = (seqs.get(tenant) ?? 0) + 1;
      seqs.set(tenant, seq);
      const until = Date.now() + MARK_TTL_SECONDS * 1000;
      let evicted = 0;
      for (const t of tags) {
        marks.set(markKey(tenant, t), { seq, until });
        const s = sets.get(setKey(tenant, t));
        sets.delete(setKey(tenant, t));
        for (const k of s ?? []) if (await entries.delete(k)) evicted += 1;
        members -= s?.size ?? 0;
      }
      for (const [k, m] of marks) if (m.until <= Date.now()) marks.delete(k);
      return evicted;
    },
  };
}

export function createCacheStore(redis: Redis | undefined, opts: { invalidation?: Invalidation } = {}): CacheStore {
  const invalidation = opts.invalidation ?? 'entity';
  return redis ? redisStore(redis, invalidation) : memoryStore(invalidation);
}
