import { TEST_POSTGRES_URL, TEST_REDIS_URL, requireService } from './services';

/** Fails the whole run at once, naming the missing server, instead of every test timing out. */
export default async function globalSetup(): Promise<void> {
  await requireService('PostgreSQL', TEST_POSTGRES_URL, 'Install it with `apt-get install postgresql` and start it (see README, "Tests"), or set TEST_DATABASE_URL.');
  await requireService('Redis', TEST_REDIS_URL, 'Install it with `apt-get install redis-server` and start it (see README, "Tests"), or set TEST_REDIS_URL.');
}
