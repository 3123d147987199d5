import { Redis } from 'ioredis';
import { refuseStrays, strayTestKeys, sweepRunKeys } from './support/redis-keys';
import { RUN_ID_SHAPE, TEST_REDIS_URL, TEST_RUN_ID, newRunId, testKeyPrefix } from './support/services';

describe('the run-end Redis checks (test/support/global-teardown.ts)', () => {
  const redis = new Redis(TEST_REDIS_URL);
  afterAll(() => redis.disconnect());

  it('names and deletes a key without TTL, deletes keys with one, and leaves other runs alone', async () => {
    const run = newRunId();
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

  it('finds and refuses test: keys written without a run id (a prefix built by hand), and no key of any run', async () => {
    const stray = `test:by-hand-${process.pid}:x`;
    const ours = `${testKeyPrefix('not-stray')}x`;
    await redis.set(stray, '1', 'EX', 60);
    await redis.set(ours, '1', 'EX', 60);
    try {
      const found = await strayTestKeys();
      expect(found).toContain(stray);
      expect(found).not.toContain(ours);
      await expect(refuseStrays([stray])).rejects.toThrow(`1 Redis key(s) under test: without this run's id (deleted now; build prefixes with testKeyPrefix() from test/support/services.ts): ${stray}`);
      expect(await redis.exists(stray)).toBe(0);
      await expect(refuseStrays([])).resolves.toBeUndefined();
    } finally {
      await redis.del(stray, ours);
    }
  });

  it('runs under a run id that every test key prefix carries', () => {
    expect(testKeyPrefix('x')).toBe(`test:${TEST_RUN_ID}:x:`);
    expect(TEST_RUN_ID).toMatch(RUN_ID_SHAPE);
    // Runs of earlier checkouts sharing the Redis: their keys are theirs, not strays of this run.
    expect('rmx5a5kp0511161').toMatch(RUN_ID_SHAPE);
    expect('rcstore-12ab34cd').not.toMatch(RUN_ID_SHAPE);
    // Set by global-setup for the whole run, not made up by this worker.
    expect(process.env['TEST_RUN_ID']).toBe(TEST_RUN_ID);
  });
});
