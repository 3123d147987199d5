import Redis from 'ioredis';
import { RUN_ID_SHAPE, TEST_REDIS_URL } from './services';

/**
 * The run-end checks of what tests wrote in the shared Redis (test/support/global-teardown.ts). Every test key is
 * `test:<run>:<label>:...` (`testKeyPrefix()`), so a run finds its own keys and leaves concurrent runs' alone.
 */

/** Where global-setup leaves the stray keys that were already there (jest shares globalThis between the two hooks only). */
export const STRAY_KEYS_AT_START = '__testStrayRedisKeysAtStart';

/** Deletes every key of `run`; rejects naming those that had no TTL. */
export async function sweepRunKeys(run: string): Promise<void> {
  await withRedis(async (redis) => {
    const keys = await scanKeys(redis, `test:${run}:*`);
    const ttls = await Promise.all(keys.map((k) => redis.pttl(k)));
    const forever = keys.filter((_, i) => ttls[i] === -1);
    if (keys.length) await redis.del(...keys);
    if (forever.length) throw new Error(`${forever.length} Redis key(s) without TTL written by this test run (deleted now): ${list(forever)}`);
  });
}

/** `test:` keys whose second segment is not a run id (RUN_ID_SHAPE): written without `testKeyPrefix()`. */
export async function strayTestKeys(): Promise<string[]> {
  return withRedis(async (redis) => (await scanKeys(redis, 'test:*')).filter((k) => !RUN_ID_SHAPE.test(k.split(':')[1] ?? '')));
}

/** Deletes `keys`; rejects naming them (they were written outside any run's prefix). */
export async function refuseStrays(keys: readonly string[]): Promise<void> {
  if (keys.length === 0) return;
  await withRedis((redis) => redis.del(...keys));
  throw new Error(`${keys.length} Redis key(s) under test: without this run's id (deleted now; build prefixes with testKeyPrefix() from test/support/services.ts): ${list(keys)}`);
}

async function scanKeys(redis: Redis, pattern: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys;
}

async function withRedis<T>(use: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1, lazyConnect: true });
  try {
    await redis.connect();
    return await use(redis);
  } finally {
    redis.disconnect();
  }
}

const list = (keys: readonly string[]) => `${keys.slice(0, 20).join(', ')}${keys.length > 20 ? ', ...' : ''}`;
