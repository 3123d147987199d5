import { loadConfig } from '../lib/config';
import { createLogger } from '../lib/logger';
import { createEventBus } from '../lib/events';
import { createRedis, redisReady } from '../lib/redis';
import { startGateway } from './server';

/** Entry point of the gateway as its own deployable: `tsx gateway/main.ts` (subgraph URLs from CRM_URL etc.). */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel, 'gateway');
  const redis = config.redisUrl ? createRedis(config.redisUrl, config.redisKeyPrefix) : undefined;
  if (redis && !(await redisReady(redis))) logger.warn('Redis is not reachable yet: cache bypassed and in-memory rate limits until it is');
  const bus = createEventBus(config.redisUrl, config.redisKeyPrefix);
  const server = await startGateway({ config, logger, redis, bus });
  logger.info({ url: server.url }, 'gateway ready');
  const stop = async () => {
    await server.close();
    redis?.disconnect();
    await bus.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
