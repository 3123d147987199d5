/**
 * The four subgraphs (crm, erp, billing, sync) of bench/gateways.ts in one process, as scripts/stack.ts starts them
 * but without a gateway or a sync worker: migrates and seeds the database at DATABASE_URL (BENCH_ACCOUNTS accounts
 * for each of acme and globex), starts every subgraph on an ephemeral port with the production settings and the
 * GATEWAY_SIGNING_SECRET of the run, prints `{"gatewaysBenchReady":{pid, urls, seedMs}}` and stops when stdin closes.
 */
import { loadConfig } from '../lib/config';
import { migrate } from '../lib/db/migrate';
import { openDatabase } from '../lib/db/open';
import { createLogger } from '../lib/logger';
import { SUBGRAPH_NAMES, type SubgraphName } from '../lib/schema';
import { MIGRATIONS, seedTenant, subgraphDefinitions } from '../subgraphs/registry';
import { type RunningServer } from '../lib/http/server';
import { startSubgraph } from '../subgraphs/runtime/server';
import { FaultInjector } from '../subgraphs/sync/engine/faults';
import { referenceSystems } from '../subgraphs/sync/engine/systems';
import { BENCH_TENANTS, announceReady, stopWhenStdinEnds, withoutNewSignalHandlers } from './gateways-common';

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  if (!config.databaseUrl) throw new Error('DATABASE_URL is required (a scratch Postgres database)');
  const accounts = Number(process.env['BENCH_ACCOUNTS'] ?? '50');
  const logger = createLogger(config.logLevel, 'bench-subgraphs');
  const db = await openDatabase(config);
  const started = Date.now();
  for (const m of MIGRATIONS) await migrate(db, m.system, m.dir);
  for (const tenant of BENCH_TENANTS) await db.transaction((tx) => seedTenant(tx, tenant, accounts));
  const seedMs = Date.now() - started;

  // No in-process sync worker: nothing in the benchmark writes, and a worker would compete for the CPU.
  const definitions = subgraphDefinitions({ systems: referenceSystems(db, new FaultInjector()), wake: () => undefined });
  const servers: Partial<Record<SubgraphName, RunningServer>> = {};
  await withoutNewSignalHandlers(async () => {
    for (const name of SUBGRAPH_NAMES) {
      servers[name] = await startSubgraph(definitions[name], {
        db, host: '127.0.0.1', port: 0, internalSecret: config.internalSecret, production: config.production, logger,
      });
    }
  });
  const urlOf = (name: SubgraphName): string => {
    const s = servers[name];
    if (!s) throw new Error(`subgraph ${name} did not start`);
    return s.url;
  };
  stopWhenStdinEnds(async () => {
    await Promise.all(Object.values(servers).map((s) => s.close(1000)));
    await db.close();
  });
  announceReady({ pid: process.pid, seedMs, urls: { crm: urlOf('crm'), erp: urlOf('erp'), billing: urlOf('billing'), sync: urlOf('sync') } });
}

main().catch((err: unknown) => {
  process.stderr.write(`bench/gateways-subgraphs.ts: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
