import { loadConfig } from '../../lib/config';
import { createEventBus } from '../../lib/events';
import { openDatabase } from '../../lib/db/open';
import { createLogger } from '../../lib/logger';
import { connectionsFromConfig, migrateAll, partnerWebhooksFromConfig } from '../registry';
import { startSyncEngine, syncEngineSettings } from './engine/runtime';
import { onShutdown, runMain } from '../../lib/process';
import { createRedis } from '../../lib/redis';
import { createCacheStore } from '../../lib/response-cache-store';
import { startTelemetry } from '../../lib/telemetry/setup';
import { reportLedger } from './ledger-metrics';
import { startWorkerOps } from './worker-ops';

/** Entry point of a sync worker process: `tsx subgraphs/sync/worker.ts`. Run as many as you like on one Postgres. */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel, 'sync-worker');
  const telemetry = startTelemetry('sync-worker', config);
  if (!config.databaseUrl) throw new Error('DATABASE_URL is required: workers share the ledger in Postgres (the embedded default runs its worker inside `npm start`)');
  const db = await openDatabase(config);
  await migrateAll(db);
  const bus = createEventBus(config.redisUrl, config.redisKeyPrefix);
  // With Redis, the gateways' response cache lives there: evict a tenant's cached answers once sync wrote its systems.
  const redis = config.redisUrl ? createRedis(config.redisUrl, config.redisKeyPrefix) : undefined;
  const cache = redis ? createCacheStore(redis) : undefined;
  const engine = startSyncEngine({
    db, bus, logger, ...syncEngineSettings(config), connections: connectionsFromConfig(db, config, logger),
    partnerWebhooks: partnerWebhooksFromConfig(db, config),
    ...(cache ? { onWritten: (tenant: string) => cache.bump(tenant) } : {}),
  });
  reportLedger(db);
  const ops = await startWorkerOps({ db, worker: engine.worker, host: config.host, port: config.metrics.workerPort });
  logger.info({ worker: engine.worker.id, ops: `http://${config.host}:${ops.port}` }, 'sync worker started (/healthz, /readyz, /metrics)');
  onShutdown(async () => {
    await ops.close();
    await engine.stop();
    await bus.close();
    redis?.disconnect();
    await db.close();
    await telemetry.shutdown();
  });
}

runMain(main);
