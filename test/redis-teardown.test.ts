import { Redis } from 'ioredis';
import { sweepRunKeys } from './support/global-teardown';
import { TEST_REDIS_URL, TEST_RUN_ID, testKeyPrefix } from './support/services';

describe('the run-end Redis check (test/support/global-teardown.ts)', () => {
  const redis = new Redis(TEST_REDIS_URL);
  afterAll(() => redis.disconnect());

  it('names and deletes a key without TTL, deletes keys with one, and leaves other runs alone', async () => {
    const run = `sweep-${process.pid}-${Date.now().toString(36)}`;
    const other = testKeyPrefix('sweep-neighbour');
    await redis.set(`test:${run}:forever`, '1');
    await redis.set(`test:${run}:expiring`, '1', 'EX', 60);
    await redis.set(`${other}kept`, '1', 'EX', 60);
    await expect(sweepRunKeys(run)).rejects.toThrow(`1 Redis key(s) without TTL written by this test run (deleted now): test:${run}:forever`);
    expect(await redis.exists(`test:${run}:forever`, `test:${run}:expiring`)).toBe(0);
    expect(await redis.exists(`${other}kept`)).toBe(1);
    await redis.del(`${other}kept`);
    await expect(sweepRunKeys(run)).resolves.toBeUndefined();
  });

  it('runs under a run id that every test key prefix carries', () => {
    expect(testKeyPrefix('x')).toBe(`test:${TEST_RUN_ID}:x:`);
    expect(TEST_RUN_ID).not.toBe('solo');
  });
});
