import { randomBytes } from 'node:crypto';
import { entityTag, listTag } from '../lib/cache-tags';
import { type Redis, createRedis, redisReady } from '../lib/redis';
import { type CacheStore, createCacheStore } from '../lib/response-cache-store';
import { TEST_REDIS_URL, testKeyPrefix } from './support/services';

/**
 * The store's contract, on real Redis and in memory alike: an eviction removes the entries of its tags in its tenant
 * only, and an answer looked up before a write cannot be stored after that write evicted one of its tags.
 */
describe.each(['redis', 'memory'] as const)('response cache store (%s)', (kind) => {
  let redis: Redis | undefined;
  let store: CacheStore;
  const prefix = testKeyPrefix(`rcstore-${randomBytes(4).toString('hex')}`);
  beforeAll(async () => {
    if (kind === 'redis') {
      redis = createRedis(TEST_REDIS_URL, prefix);
      expect(await redisReady(redis)).toBe(true);
    }
    store = createCacheStore(redis);
  });
  afterAll(async () => {
    if (redis) {
      // Every key has a TTL; delete them now all the same (SCAN's pattern is not prefixed by ioredis, its keys are).
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length) await redis.del(...keys.map((k) => k.slice(prefix.length)));
      } while (cursor !== '0');
      redis.disconnect();
    }
  });

  it('evicts only the entries holding a written entity, in the writer\'s tenant', async () => {
    const x = entityTag('Account', 'x');
    const y = entityTag('Account', 'y');
    const { seq } = await store.lookup('t1', []);
    expect(await store.store('t1', 'kx', 'X', 60, ['*', x], seq)).toBe(true);
    expect(await store.store('t1', 'ky', 'Y', 60, ['*', y], seq)).toBe(true);
    expect(await store.store('t2', 'kx', 'X2', 60, ['*', x], (await store.lookup('t2', [])).seq)).toBe(true);
    expect(await store.evict('t1', [{ type: 'Account', id: 'x' }])).toBe(1);
    expect((await store.lookup('t1', ['kx', 'ky'])).values).toEqual([null, 'Y']);
    expect((await store.lookup('t2', ['kx'])).values).toEqual(['X2']);
    // A create evicts lists of its type, not the entities.
    expect(await store.store('t1', 'list', 'L', 60, ['*', y, listTag('Account')], (await store.lookup('t1', [])).seq)).toBe(true);
    await store.evict('t1', [{ type: 'Account', created: true }]);
    expect((await store.lookup('t1', ['list', 'ky'])).values).toEqual([null, 'Y']);
  });

  it('refuses to store an answer looked up before a write that evicted one of its tags', async () => {
    const z = entityTag('Account', 'z');
    const before = (await store.lookup('t3', ['kz'])).seq;
    await store.evict('t3', [{ type: 'Account', id: 'z' }]);
    expect(await store.store('t3', 'kz', 'stale', 60, ['*', z], before)).toBe(false);
    expect((await store.lookup('t3', ['kz'])).values).toEqual([null]);
    // Looked up after the write: stored.
    const after = (await store.lookup('t3', [])).seq;
    expect(after).toBeGreaterThan(before);
    expect(await store.store('t3', 'kz', 'fresh', 60, ['*', z], after)).toBe(true);
    // A tag the write did not touch does not block an earlier lookup.
    expect(await store.store('t3', 'kw', 'W', 60, ['*', entityTag('Account', 'w')], before)).toBe(true);
  });
});
