/**
 * One more gateway instance for a bench, in its own process (bench/support.ts startGatewayInstance): the gateway alone
 * (no subgraphs, no worker) on an ephemeral port, in front of the subgraphs of a running bench/serve.ts stack and on
 * its Redis (REDIS_URL, REDIS_KEY_PREFIX), verifying tokens with the stack's secrets. Prints one JSON line
 * `{"benchReady":{url, pid}}` (bench/host.ts announceReady) on stdout; SIGTERM/SIGINT close it.
 *
 * Environment: the stack's configuration (JWT_SECRET, GATEWAY_SIGNING_SECRET, REDIS_URL, REDIS_KEY_PREFIX, CRM_URL,
 * ERP_URL, BILLING_URL, SYNC_URL, SUBSCRIPTION_LIMITS, LOG_LEVEL), as bench/support.ts passes it.
 */
import { loadConfig } from '../lib/config';
import { createEventBus } from '../lib/events';
import { createLogger } from '../lib/logger';
import { createRedis } from '../lib/redis';
import { collectProcessMetrics } from '../lib/telemetry/registry';
import { startGateway } from '../gateway/server';
import { announceReady } from './host';
import type { GatewayInstanceInfo } from './instance-info';

async function main(): Promise<void> {
  // As the product's entry points do: Node's process metrics (event loop delay, read by bench/subscriptions-gauges.ts).
  collectProcessMetrics();
  const config = loadConfig({ ...process.env, NODE_ENV: 'production', RECONCILE_INTERVAL_SECONDS: '0' });
  if (!config.redisUrl) throw new Error('REDIS_URL is required: instances share events through Redis');
  const logger = createLogger(config.logLevel, 'bench-gateway');
  const redis = createRedis(config.redisUrl, config.redisKeyPrefix);
  const bus = createEventBus(config.redisUrl, config.redisKeyPrefix);
  const server = await startGateway({ config, logger, redis, bus, port: 0 });
  let stopping = false;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    let code = 0;
    try {
      await server.close();
      await bus.close();
      redis.disconnect();
    } catch (err) {
      code = 1;
      process.stderr.write(`bench/serve-gateway.ts: close failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    }
    // A normal exit (not a signal's), so that --cpu-prof writes its profile.
    process.exit(code);
  };
  process.once('SIGTERM', () => void shutdown());
  process.once('SIGINT', () => void shutdown());
  const info: GatewayInstanceInfo = { url: server.url, pid: process.pid };
  announceReady(info);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench/serve-gateway.ts: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
