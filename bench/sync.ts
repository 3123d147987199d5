/**
 * Initial sync throughput of the sync worker (`npm run bench:sync`).
 *
 * For 1 and then 2 worker engines, each run on a fresh Postgres database:
 *   1. migrate, seed N CRM accounts (CRM only: ERP and billing start empty),
 *   2. start the engines, each in its own process (bench/sync-worker.ts → startSyncEngine, 4 job loops each),
 *   3. enqueue ACCOUNT_UPSERT jobs to ERP and BILLING for every account with enqueueSyncJob in ONE transaction
 *      (2·N jobs, visible to the workers at commit),
 *   4. wait until no job is pending, running or failed (or the time budget of the run is spent), stop the engines,
 *   5. report jobs/s and latency percentiles from sync.events (the `at` of each job's SUCCEEDED event).
 *
 * Latency is given two ways: from `created_at` (as the ledger records it: the start of the enqueue transaction, so it
 * includes the time the enqueue itself took) and from the commit of the enqueue (when workers could first see a job).
 *
 *   npx tsx bench/sync.ts [--accounts 10000] [--engines 1,2] [--budget 30]
 */
import { parseCli } from '../lib/cli';
import { connectPostgres } from '../lib/db/postgres';
import type { Db } from '../lib/db/db';
import { enqueueSyncJob } from '../lib/outbox';
import { migrateAll } from '../subgraphs/registry';
import { seedCrm } from '../subgraphs/crm/seed';
import { type ChildHandle, createDatabase, intOption, machineDescription, runId, startChild, table, workerInfo } from './support';

const TENANT = 'acme';
const TARGETS = ['ERP', 'BILLING'] as const;

interface RunResult {
  engines: number;
  accounts: number;
  jobs: number;
  seedMs: number;
  enqueueMs: number;
  succeeded: number;
  other: Record<string, number>;
  finished: boolean;
  /** Seconds from the enqueue commit to the last SUCCEEDED event. */
  drainSeconds: number;
  jobsPerSecond: number;
  fromCreated: { p50: number; p99: number; max: number };
  fromCommit: { p50: number; p99: number; max: number };
  /** Attempts beyond the first, summed (retries). */
  retries: number;
}

async function stateCounts(db: Db): Promise<Record<string, number>> {
  const rows = await db.query<{ state: string; n: string }>('SELECT state, count(*)::text AS n FROM sync.jobs GROUP BY state');
  return Object.fromEntries(rows.map((r) => [r.state, Number(r.n)]));
}

async function runOnce(engines: number, accounts: number, budgetSeconds: number): Promise<RunResult> {
  const id = runId();
  const database = await createDatabase(`bench_sync_${id}`);
  const db = await connectPostgres(database.url, 2);
  const workers: ChildHandle<{ pid: number; worker: string }>[] = [];
  try {
    await migrateAll(db);
    let t = Date.now();
    const seeded = await db.transaction((tx) => seedCrm(tx, TENANT, accounts));
    const seedMs = Date.now() - t;

    for (let i = 0; i < engines; i++) {
      workers.push(
        await startChild('sync-worker.ts', {
          label: `worker ${i + 1}`,
          schema: workerInfo,
          env: { ...process.env, NODE_ENV: 'production', DATABASE_URL: database.url, REDIS_KEY_PREFIX: `bench:${id}:`, LOG_LEVEL: 'warn' },
        }),
      );
    }

    t = Date.now();
    await db.transaction(async (tx) => {
      for (const a of seeded) {
        for (const target of TARGETS) {
          await enqueueSyncJob(tx, {
            tenant: TENANT, kind: 'ACCOUNT_UPSERT', entityType: 'Account', entityId: a.id, sourceSystem: 'CRM', targetSystem: target,
            correlationId: `bench-${id}`, idempotencyKey: `bench-initial-sync:${a.id}:${target}`,
          });
        }
      }
    });
    const enqueueMs = Date.now() - t;
    // The database's clock, like created_at and events.at: no skew between the two clocks to account for.
    const [commit] = await db.query<{ at: string }>('SELECT clock_timestamp()::text AS at');
    if (!commit) throw new Error('no clock');
    const jobs = accounts * TARGETS.length;
    console.log(
      `  ${engines} engine(s): ${jobs} jobs enqueued in ${(enqueueMs / 1000).toFixed(1)} s (one transaction, ${((jobs / enqueueMs) * 1000).toFixed(0)} jobs/s); draining…`,
    );

    const deadline = Date.now() + budgetSeconds * 1000;
    let counts: Record<string, number> = {};
    let lastReport = Date.now();
    for (;;) {
      counts = await stateCounts(db);
      const open = (counts['PENDING'] ?? 0) + (counts['RUNNING'] ?? 0) + (counts['FAILED'] ?? 0);
      if (open === 0 || Date.now() > deadline) break;
      if (Date.now() - lastReport >= 10_000) {
        lastReport = Date.now();
        console.log(`    … ${counts['SUCCEEDED'] ?? 0}/${jobs} SUCCEEDED`);
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    const finished = (counts['PENDING'] ?? 0) + (counts['RUNNING'] ?? 0) + (counts['FAILED'] ?? 0) === 0;
    await Promise.all(workers.splice(0).map((w) => w.stop()));

    const [stats] = await db.query<Record<string, string | null>>(
      `WITH done AS (
         SELECT EXTRACT(EPOCH FROM (e.at - j.created_at)) * 1000 AS from_created,
                EXTRACT(EPOCH FROM (e.at - $1::timestamptz)) * 1000 AS from_commit, e.at
         FROM sync.jobs j JOIN sync.events e ON e.job_id = j.id AND e.state = 'SUCCEEDED')
       SELECT count(*)::text AS n,
         percentile_disc(0.5) WITHIN GROUP (ORDER BY from_created)::text AS c50,
         percentile_disc(0.99) WITHIN GROUP (ORDER BY from_created)::text AS c99, max(from_created)::text AS cmax,
         percentile_disc(0.5) WITHIN GROUP (ORDER BY from_commit)::text AS m50,
         percentile_disc(0.99) WITHIN GROUP (ORDER BY from_commit)::text AS m99, max(from_commit)::text AS mmax,
         (EXTRACT(EPOCH FROM (max(at) - $1::timestamptz)))::text AS drain,
         (SELECT COALESCE(sum(attempts - 1), 0)::text FROM sync.jobs WHERE attempts > 1) AS retries
       FROM done`,
      [commit.at],
    );
    const num = (k: string) => Number(stats?.[k] ?? Number.NaN);
    const succeeded = num('n');
    const drainSeconds = num('drain');
    const other = Object.fromEntries(Object.entries(counts).filter(([s]) => s !== 'SUCCEEDED'));
    return {
      engines, accounts, jobs, seedMs, enqueueMs, succeeded, other, finished, drainSeconds,
      jobsPerSecond: succeeded / drainSeconds,
      fromCreated: { p50: num('c50'), p99: num('c99'), max: num('cmax') },
      fromCommit: { p50: num('m50'), p99: num('m99'), max: num('mmax') },
      retries: num('retries'),
    };
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
    await db.close();
    await database.drop();
  }
}

async function main(): Promise<void> {
  const { values } = parseCli({
    usage: 'npm run bench:sync -- [options]',
    summary: 'Initial sync throughput of the sync worker: N CRM accounts to ERP and billing, one worker process then two (needs PostgreSQL).',
    options: {
      accounts: { type: 'string', default: '10000', description: 'CRM accounts to sync (2 jobs each)', placeholder: 'n' },
      engines: { type: 'string', default: '1,2', description: 'comma-separated worker process counts, one run each', placeholder: 'list' },
      budget: { type: 'string', default: '30', description: 'seconds of draining allowed per run', placeholder: 's' },
    },
  });
  const accounts = intOption('accounts', values.accounts);
  const engineCounts = values.engines.split(',').map((n) => intOption('engines', n.trim()));
  const budget = intOption('budget', values.budget);

  console.log(`# bench:sync — ${new Date().toISOString()}`);
  console.log(`machine: ${machineDescription()}`);
  console.log(
    `setup: ${accounts} CRM accounts (tenant ${TENANT}) → ${accounts * TARGETS.length} ACCOUNT_UPSERT jobs (ERP + BILLING); engines in separate ` +
      `processes, unpinned, each 4 job loops and a pool of 10 connections; Postgres and Redis on the same machine; at most ${budget} s of draining per run\n`,
  );
  const results: RunResult[] = [];
  for (const engines of engineCounts) {
    const r = await runOnce(engines, accounts, budget);
    results.push(r);
    console.log(
      `  ${engines} engine(s): ${r.succeeded}/${r.jobs} SUCCEEDED in ${r.drainSeconds.toFixed(1)} s → ${r.jobsPerSecond.toFixed(1)} jobs/s` +
        `${r.finished ? '' : ` — NOT FINISHED within ${budget} s (${JSON.stringify(r.other)} left)`}` +
        `${r.retries > 0 ? `, ${r.retries} retries` : ''}${Object.keys(r.other).length > 0 && r.finished ? `, other states ${JSON.stringify(r.other)}` : ''}`,
    );
  }

  const s = (ms: number) => (Number.isFinite(ms) ? (ms / 1000).toFixed(2) : '-');
  console.log('\n## Results\n');
  console.log(
    table(
      ['engines', 'jobs', 'succeeded', 'finished', 'seed s', 'enqueue s', 'drain s', 'jobs/s', 'p50 s (created)', 'p99 s (created)', 'p50 s (commit)', 'p99 s (commit)', 'max s (commit)'],
      results.map((r) => [
        String(r.engines), String(r.jobs), String(r.succeeded), r.finished ? 'yes' : 'NO', s(r.seedMs), s(r.enqueueMs), r.drainSeconds.toFixed(1),
        r.jobsPerSecond.toFixed(1), s(r.fromCreated.p50), s(r.fromCreated.p99), s(r.fromCommit.p50), s(r.fromCommit.p99), s(r.fromCommit.max),
      ]),
    ),
  );
  const one = results.find((r) => r.engines === 1);
  const two = results.find((r) => r.engines === 2);
  if (one && two) console.log(`\n2 engines / 1 engine throughput: ${(two.jobsPerSecond / one.jobsPerSecond).toFixed(2)}×`);
  if (results.some((r) => !r.finished)) {
    console.log(`\nNot every run drained ${accounts * TARGETS.length} jobs within ${budget} s: jobs/s and latencies above cover the jobs that did succeed.`);
  }
  console.log('\nLatency is queueing time for almost every job: all jobs become visible at once and are drained in order.');
  console.log('The load average is in the machine line above: compare figures within one run only.');
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:sync failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
