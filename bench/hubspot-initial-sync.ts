/**
 * Initial sync of a HubSpot portal of N companies into a tenant's CRM: the sync engine's own INITIAL_SYNC job (search
 * pages -> one REMOTE_PAGE job per 100 companies: batch read, mirror write, batch claim of our ids) against the HubSpot
 * fake over real HTTP, paced by the connection's outbound limit. Prints the time until every company is an account,
 * records/s, and the most requests the fake saw in any 10-second window next to its limit (HubSpot's rolling window,
 * measured where HubSpot would measure it) and how many it refused with 429.
 *
 *   npx tsx bench/hubspot-initial-sync.ts [--companies 10000] [--rps 10] [--limit 190] [--concurrency 4] [--drain-budget 0]
 *
 * One engine in this process on a fresh Postgres database (BENCH_POSTGRES_URL). Each account the sync writes also
 * queues its ERP and billing upserts (reference stores here); `--drain-budget S` waits up to S seconds for those too.
 * SIGKILL of a worker mid-way is the job of test/connectors-hubspot-initial-sync.test.ts, not of this figure.
 */
import { parseCli } from '../lib/cli';
import { performance } from 'node:perf_hooks';
import { HubSpotFake } from '../fakes/hubspot/server';
import { busiestWindow } from '../fakes/http-fake';
import { loadConfig } from '../lib/config';
import { connectPostgres } from '../lib/db/postgres';
import { createEventBus } from '../lib/events';
import { createLogger } from '../lib/logger';
import { enqueueSyncJob } from '../lib/outbox';
import { connectionsFromConfig, migrateAll } from '../subgraphs/registry';
import { faultsFromJson } from '../subgraphs/sync/engine/faults';
import { startSyncEngine } from '../subgraphs/sync/engine/runtime';
import { initialSyncProgress } from '../subgraphs/sync/remote/initial-sync';
import { createDatabase, intOption, machineDescription, runId, table } from './support';

const TENANT = 'acme';

async function main(): Promise<void> {
  const { values } = parseCli({
    usage: 'npx tsx bench/hubspot-initial-sync.ts [options]',
    summary: "Initial sync of a HubSpot portal of N companies into a tenant's CRM against the HubSpot fake: time, records/s, busiest 10-second window, 429s.",
    options: {
      companies: { type: 'string', default: '10000', description: 'companies in the fake portal', placeholder: 'n' },
      rps: { type: 'string', default: '10', description: "the connection's outbound requests per second", placeholder: 'n' },
      limit: { type: 'string', default: '190', description: "the fake's limit per rolling 10 seconds", placeholder: 'n' },
      concurrency: { type: 'string', default: '4', description: 'jobs the engine runs at once', placeholder: 'n' },
      'drain-budget': { type: 'string', default: '0', description: 'seconds to wait for the ERP and billing upserts too', placeholder: 's' },
    },
  });
  const companies = intOption('companies', values.companies);
  const rps = intOption('rps', values.rps);
  const limit = intOption('limit', values.limit);
  const concurrency = intOption('concurrency', values.concurrency);
  const drainBudget = intOption('drain-budget', values['drain-budget'], 0);

  const fake = new HubSpotFake({ tokens: ['pat-na1-bench'], rateLimitPer10s: limit });
  await fake.start();
  for (let i = 0; i < companies; i++) fake.create('companies', { name: `Bench Co ${String(i).padStart(6, '0')}`, domain: `bench-${i}.example` });
  fake.pendingEvents.length = 0;

  const database = await createDatabase(`bench_hubspot_${runId()}`);
  const db = await connectPostgres(database.url, 8);
  const logger = createLogger('warn', 'bench');
  const bus = createEventBus(undefined, 'bench:');
  const engine = await (async () => {
    await migrateAll(db);
    const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', DATABASE_URL: database.url });
    const connections = connectionsFromConfig(db, config, logger);
    const connection = await connections.store.forTenant(TENANT).create({
      system: 'CRM', adapter: 'hubspot', settings: { apiBase: fake.url, maxRequestsPerSecond: rps }, credentials: { apiKey: 'pat-na1-bench', webhookSecret: null },
    });
    if (!connection) throw new Error('connection not created');
    const started = startSyncEngine({
      db, bus, logger, connections, concurrency, faults: faultsFromJson(undefined), retry: { baseDelayMs: 200, maxDelayMs: 30_000 }, reconcileIntervalSeconds: 0, pollIntervalSeconds: 0,
    });
    return { started, connectionId: connection.id };
  })();

  try {
    const t0 = performance.now();
    const jobId = await db.transaction((tx) => enqueueSyncJob(tx, {
      tenant: TENANT, kind: 'INITIAL_SYNC', entityType: 'SystemConnection', entityId: engine.connectionId, sourceSystem: 'CRM', targetSystem: null,
      correlationId: 'bench', idempotencyKey: `initial:${engine.connectionId}`, payload: { connectionId: engine.connectionId }, maxAttempts: 20,
    }));
    if (!jobId) throw new Error('job not enqueued');
    engine.started.worker.wake();
    let progress = await initialSyncProgress(db, TENANT, jobId);
    for (;;) {
      progress = await initialSyncProgress(db, TENANT, jobId);
      const [open] = await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM sync.jobs WHERE kind IN ('INITIAL_SYNC', 'REMOTE_PAGE') AND state NOT IN ('SUCCEEDED', 'DEAD_LETTERED')`);
      if (progress.finished && open?.n === '0') break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const syncSeconds = (performance.now() - t0) / 1000;
    let drainSeconds: number | null = null;
    if (drainBudget > 0) {
      const deadline = performance.now() + drainBudget * 1000;
      for (;;) {
        const [open] = await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM sync.jobs WHERE state IN ('PENDING', 'RUNNING', 'FAILED')`);
        if (open?.n === '0') {
          drainSeconds = (performance.now() - t0) / 1000;
          break;
        }
        if (performance.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 1000));
      }
    }

    const [accounts] = await db.query<{ n: string; distinct_names: string }>(`SELECT count(*)::text AS n, count(DISTINCT name)::text AS distinct_names FROM crm.accounts WHERE tenant_id = $1`, [TENANT]);
    const [queued] = await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM sync.jobs WHERE kind = 'ACCOUNT_UPSERT' AND state IN ('PENDING', 'RUNNING', 'FAILED')`);
    const requests = fake.log;
    const busiest = busiestWindow(requests, 10_000);
    console.log(`HubSpot initial sync: ${companies} companies, outbound ${rps} req/s, fake limit ${limit} per 10 s, ${concurrency} job loops`);
    console.log(machineDescription());
    console.log(table(['measure', 'value'], [
      ['time until every company is an account (s)', syncSeconds.toFixed(1)],
      ['companies per second', (companies / syncSeconds).toFixed(1)],
      ['records read (incl. re-reads of claimed ones)', String(progress.seen)],
      ['records applied / failed', `${progress.written} / ${progress.failed}`],
      ['accounts (distinct names)', `${accounts?.n} (${accounts?.distinct_names})`],
      ['requests to HubSpot', String(requests.length)],
      ['requests per second (mean)', (requests.length / syncSeconds).toFixed(1)],
      ['max requests in any 10 s window (fake)', `${busiest} of ${limit}`],
      ['429 answers', String(requests.filter((r) => r.status === 429).length)],
      ['ERP/billing upserts still queued at that point', queued?.n ?? '?'],
      ['all jobs drained after (s)', drainSeconds === null ? (drainBudget > 0 ? `not within ${drainBudget}` : 'not waited') : drainSeconds.toFixed(1)],
    ]));
  } finally {
    await engine.started.stop();
    await bus.close();
    await db.close();
    await database.drop();
    await fake.stop();
  }
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
