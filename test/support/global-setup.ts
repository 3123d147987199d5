import { STRAY_KEYS_AT_START, strayTestKeys } from './redis-keys';
import { TEST_POSTGRES_URL, TEST_REDIS_URL, TEST_RUN_ID, requireService } from './services';

/**
 * Fails the whole run at once, naming the missing server, instead of every test timing out. Names the run
 * (TEST_RUN_ID, inherited by the workers) for its Redis keys, and notes the `test:` keys without a run id already
 * there; global-teardown checks both.
 */
export default async function globalSetup(): Promise<void> {
  process.env['TEST_RUN_ID'] ??= TEST_RUN_ID;
  await requireService('PostgreSQL', TEST_POSTGRES_URL, 'Install it with `apt-get install postgresql` and start it (see README, "Tests"), or set TEST_DATABASE_URL.');
  await requireService('Redis', TEST_REDIS_URL, 'Install it with `apt-get install redis-server` and start it (see README, "Tests"), or set TEST_REDIS_URL.');
  Reflect.set(globalThis, STRAY_KEYS_AT_START, await strayTestKeys());
}
