/**
 * One sync worker engine in its own process for bench/sync.ts: startSyncEngine on DATABASE_URL with the Redis event
 * bus, no faults and no reconciliation schedule. Prints `{"benchReady":{"pid":…}}` on stdout once polling, and
 * on SIGTERM stops the engine (in-flight jobs finish), closes its connections and exits.
 */
import { connectPostgres } from '../lib/db/postgres';
import { createEventBus } from '../lib/events';
import { createLogger } from '../lib/logger';
import { FaultInjector } from '../subgraphs/sync/engine/faults';
import { startSyncEngine } from '../subgraphs/sync/engine/runtime';
import { BENCH_REDIS_URL, announceReady } from './support';

async function main(): Promise<void> {
  const url = process.env['DATABASE_URL'];
  if (!url) throw new Error('DATABASE_URL is required');
  const prefix = process.env['REDIS_KEY_PREFIX'] ?? 'bench:sync:';
  const logger = createLogger(process.env['LOG_LEVEL'] ?? 'warn', 'bench-sync-worker');
  const db = await connectPostgres(url);
  const bus = createEventBus(BENCH_REDIS_URL, prefix);
  const engine = startSyncEngine({
    db,
    bus,
    logger,
    faults: new FaultInjector(),
    retry: { baseDelayMs: 500, maxDelayMs: 30_000 },
    reconcileIntervalSeconds: 0,
  });
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await engine.stop();
    await bus.close();
    await db.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
  announceReady({ pid: process.pid, worker: engine.worker.id });
}

main().catch((err: unknown) => {
  process.stderr.write(`bench/sync-worker.ts: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
