import { onShutdown } from '../../lib/process';
import { loadConfig } from '../../lib/config';
import { openDatabase } from '../../lib/db/open';
import { createLogger } from '../../lib/logger';
import type { SubgraphName } from '../../lib/schema';
import { connectionsFromConfig, migrateAll, partnerWebhooksFromConfig, subgraphDefinitions } from '../registry';
import { FaultInjector } from '../sync/engine/faults';
import { connectedSystems } from '../sync/engine/systems';
import { startSubgraph } from './server';
import { createRedis } from '../../lib/redis';
import { startTelemetry } from '../../lib/telemetry/setup';

/** Entry point of one subgraph as its own deployable: `tsx subgraphs/crm/main.ts`. */
export async function runSubgraph(name: SubgraphName): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel, name);
  const telemetry = startTelemetry(name, config);
  if (!config.databaseUrl) logger.warn('DATABASE_URL is not set: this subgraph runs on its own in-memory PGlite');
  const db = await openDatabase(config);
  // Every system's schema: a CRM write also enqueues into the sync outbox. Migrations are idempotent and locked.
  await migrateAll(db);
  // Workers run as their own processes (subgraphs/sync/worker.ts) and poll, so there is no in-process worker to wake.
  const connections = connectionsFromConfig(db, config, logger);
  const definitions = subgraphDefinitions({ systems: connectedSystems(db, new FaultInjector(), connections), wake: () => undefined, connections, partnerWebhooks: partnerWebhooksFromConfig(db, config) });
  // Shared record of used write headers across this subgraph's instances (see lib/auth/replay-guard.ts).
  const redis = config.redisUrl ? createRedis(config.redisUrl, config.redisKeyPrefix) : undefined;
  const server = await startSubgraph(definitions[name], {
    db,
    host: config.host,
    port: config.ports[name],
    internalSecret: config.internalSecret,
    production: config.production,
    logger,
    redis,
  });
  logger.info({ url: server.url }, 'subgraph ready');
  onShutdown(async () => {
    await server.close();
    redis?.disconnect();
    await db.close();
    await telemetry.shutdown();
  });
}
