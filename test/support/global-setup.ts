import { randomBytes } from 'node:crypto';
import { TEST_POSTGRES_URL, TEST_REDIS_URL, requireService } from './services';

/**
 * Fails the whole run at once, naming the missing server, instead of every test timing out. Names the run
 * (TEST_RUN_ID, inherited by the workers) for its Redis keys; global-teardown checks them.
 */
export default async function globalSetup(): Promise<void> {
  process.env['TEST_RUN_ID'] ??= `r${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  await requireService('PostgreSQL', TEST_POSTGRES_URL, 'Install it with `apt-get install postgresql` and start it (see README, "Tests"), or set TEST_DATABASE_URL.');
  await requireService('Redis', TEST_REDIS_URL, 'Install it with `apt-get install redis-server` and start it (see README, "Tests"), or set TEST_REDIS_URL.');
}
