import { loadConfig } from '../lib/config';
import { createLogger } from '../lib/logger';
import { connectPostgres } from '../lib/db/postgres';
import { createEventBus } from '../lib/events';
import { createRedis, redisReady } from '../lib/redis';
import { startGateway } from './server';
import { onShutdown, runMain } from '../lib/process';
import { startTelemetry } from '../lib/telemetry/setup';

/** Entry point of the gateway as its own deployable: `tsx gateway/main.ts` (subgraph URLs from CRM_URL etc.). */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel, 'gateway');
  const telemetry = startTelemetry('gateway', config);
  const redis = config.redisUrl ? createRedis(config.redisUrl, config.redisKeyPrefix) : undefined;
  if (redis && !(await redisReady(redis))) logger.warn('Redis is not reachable yet: cache bypassed and in-memory rate limits until it is');
  const bus = createEventBus(config.redisUrl, config.redisKeyPrefix);
  // The gateway itself needs Postgres for Idempotency-Key and the audit log; without DATABASE_URL it has neither (the
  // header is ignored).
  const db = config.databaseUrl ? await connectPostgres(config.databaseUrl, 4) : undefined;
  const server = await startGateway({ config, logger, redis, bus, db });
  logger.info({ url: server.url }, 'gateway ready');
  onShutdown(async () => {
    await server.close();
    redis?.disconnect();
    await bus.close();
    await db?.close();
    await telemetry.shutdown();
  });
}

runMain(main);
