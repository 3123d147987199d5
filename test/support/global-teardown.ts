import Redis from 'ioredis';
import { TEST_REDIS_URL } from './services';

/**
 * After the whole run: no key of this run may stay in the shared Redis. Keys without a TTL fail the run (named, so
 * the code that wrote them can be found; they are deleted too); keys with a TTL would expire on their own, and are
 * deleted now so the run leaves nothing behind.
 */
export default async function globalTeardown(): Promise<void> {
  const run = process.env['TEST_RUN_ID'];
  if (run) await sweepRunKeys(run);
}

/** Deletes every key of `run`; rejects naming those that had no TTL. */
export async function sweepRunKeys(run: string): Promise<void> {
  const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1, lazyConnect: true });
  try {
    await redis.connect();
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await redis.scan(cursor, 'MATCH', `test:${run}:*`, 'COUNT', 1000);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    const ttls = await Promise.all(keys.map((k) => redis.pttl(k)));
    const forever = keys.filter((_, i) => ttls[i] === -1);
    if (keys.length) await redis.del(...keys);
    if (forever.length) {
      throw new Error(`${forever.length} Redis key(s) without TTL written by this test run (deleted now): ${forever.slice(0, 20).join(', ')}${forever.length > 20 ? ', ...' : ''}`);
    }
  } finally {
    redis.disconnect();
  }
}
