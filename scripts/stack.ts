import type { Config } from '../lib/config';
import { type Db, type StatementCounter, countStatements } from '../lib/db/db';
import { openDatabase } from '../lib/db/open';
import type { RunningServer } from '../lib/http/server';
import type { Logger } from '../lib/logger';
import { type Redis, createRedis, redisReady } from '../lib/redis';
import { SUBGRAPH_NAMES, type SubgraphName } from '../lib/schema';
import { startGateway } from '../gateway/server';
import { connectionsFromConfig, migrateAll, partnerWebhooksFromConfig, seedTenant, subgraphDefinitions } from '../subgraphs/registry';
import { type SyncEngine, startSyncEngine, syncEngineSettings } from '../subgraphs/sync/engine/runtime';
import { type EventBus, createEventBus } from '../lib/events';
import { startSubgraph } from '../subgraphs/runtime/server';
import { createCacheStore } from '../lib/response-cache-store';
import { reportLedger } from '../subgraphs/sync/ledger-metrics';
import { configureLabels } from '../lib/telemetry/registry';

export interface StackOptions {
  config: Config;
  logger: Logger;
  /** An already open database (tests pass one); otherwise opened from config (PGlite without DATABASE_URL). */
  db?: Db;
  /** Seed these tenants with this many accounts each when they have no data yet. */
  seed?: { tenants: readonly string[]; accounts: number };
  /** Use port 0 everywhere (tests, several stacks on one machine). */
  ephemeralPorts?: boolean;
}

export interface Stack {
  db: Db;
  redis: Redis | undefined;
  bus: EventBus;
  sync: SyncEngine;
  gateway: RunningServer;
  subgraphs: Record<SubgraphName, RunningServer & { statements: StatementCounter }>;
  /** What seeding did per tenant (empty without `seed`). */
  seeded: SeedOutcome[];
  stop(): Promise<void>;
}

/** What seeding did for one tenant: seeded now, or found `existing` accounts and left the tenant as it was. */
export type SeedOutcome = { tenant: string; seeded: true; accounts: number } | { tenant: string; seeded: false; existing: number };

/**
 * Seeds each tenant that has no accounts yet. A tenant with data is never touched: seeding is deterministic per
 * account index and writes every system at once, so adding to a tenant that has been used since could duplicate or
 * contradict what it holds. The outcome says which it was, so callers can report it.
 */
export async function seedIfEmpty(db: Db, tenants: readonly string[], accounts: number): Promise<SeedOutcome[]> {
  const outcomes: SeedOutcome[] = [];
  for (const tenant of tenants) {
    const [row] = await db.query<{ n: string }>('SELECT count(*)::text AS n FROM crm.accounts WHERE tenant_id = $1', [tenant]);
    const existing = Number(row?.n ?? 0);
    if (existing > 0) {
      outcomes.push({ tenant, seeded: false, existing });
      continue;
    }
    await db.transaction((tx) => seedTenant(tx, tenant, accounts));
    outcomes.push({ tenant, seeded: true, accounts });
  }
  return outcomes;
}

/** The composition root for one process: database, migrations, the four subgraphs, the sync engine and the gateway. */
export async function startStack(opts: StackOptions): Promise<Stack> {
  const { config, logger } = opts;
  configureLabels({ tenants: config.metrics.tenants, operations: config.metrics.operations });
  const db = opts.db ?? (await openDatabase(config));
  await migrateAll(db);
  const seeded = opts.seed ? await seedIfEmpty(db, opts.seed.tenants, opts.seed.accounts) : [];

  const bus = createEventBus(config.redisUrl, config.redisKeyPrefix);
  const redis = config.redisUrl ? createRedis(config.redisUrl, config.redisKeyPrefix) : undefined;
  // One cache store for the gateway and the sync engine: sync writes evict the tenant's cached answers.
  const cacheStore = createCacheStore(redis);
  const connections = connectionsFromConfig(db, config, logger.child({ component: 'connections' }));
  const partnerWebhooks = partnerWebhooksFromConfig(db, config);
  const sync = startSyncEngine({
    db,
    connections,
    partnerWebhooks,
    bus,
    logger: logger.child({ component: 'sync-worker' }),
    ...syncEngineSettings(config),
    onWritten: (tenant) => cacheStore.bump(tenant),
  });
  // This process runs a worker: its /metrics report the ledger (jobs by state, dead letters, oldest PENDING, drift).
  const unreportLedger = reportLedger(db);
  const definitions = subgraphDefinitions({ systems: sync.systems, wake: sync.worker.wake, connections, partnerWebhooks });
  const started: Partial<Stack['subgraphs']> = {};
  for (const name of SUBGRAPH_NAMES) {
    const statements: StatementCounter = { count: 0 };
    const server = await startSubgraph(definitions[name], {
      db: countStatements(db, statements),
      host: config.host,
      port: opts.ephemeralPorts ? 0 : config.ports[name],
      internalSecret: config.internalSecret,
      production: config.production,
      logger,
      redis,
    });
    started[name] = Object.assign(server, { statements });
  }
  const subgraphs = started as Stack['subgraphs'];
  if (redis && !(await redisReady(redis))) logger.warn('Redis is not reachable yet: cache bypassed and in-memory rate limits until it is');
  const gateway = await startGateway({
    config,
    logger,
    redis,
    bus,
    db,
    cacheStore,
    subgraphUrls: { crm: subgraphs.crm.url, erp: subgraphs.erp.url, billing: subgraphs.billing.url, sync: subgraphs.sync.url },
    port: opts.ephemeralPorts ? 0 : config.ports.gateway,
  });
  return {
    db,
    redis,
    bus,
    sync,
    gateway,
    subgraphs,
    seeded,
    async stop() {
      await gateway.close();
      await Promise.all(SUBGRAPH_NAMES.map((n) => subgraphs[n].close()));
      await sync.stop();
      unreportLedger();
      await bus.close();
      redis?.disconnect();
      if (!opts.db) await db.close();
    },
  };
}
