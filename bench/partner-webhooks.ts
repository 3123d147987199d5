/**
 * Partner webhook delivery throughput: N queued deliveries over E endpoints of one tenant, sent by one delivery
 * worker (signing, real HTTP to a local receiver answering 204, outcome recorded in Postgres), timed from the start of
 * the worker to the last SUCCEEDED. Needs PostgreSQL (BENCH_POSTGRES_URL).
 */
import { parseCli } from '../lib/cli';
import { keyRingFromEnv } from '../lib/connectors/secret-box';
import { connectPostgres } from '../lib/db/postgres';
import { createLogger } from '../lib/logger';
import { migrateAll } from '../subgraphs/registry';
import type { SyncEventModel } from '../subgraphs/sync/ledger/models';
import { startDeliveryWorker } from '../subgraphs/sync/partner-webhooks/delivery-worker';
import { enqueuePartnerDeliveries } from '../subgraphs/sync/partner-webhooks/enqueue';
import { partnerWebhookSettings } from '../subgraphs/sync/partner-webhooks/settings';
import { partnerWebhookAdmin } from '../subgraphs/sync/partner-webhooks/store';
import { startWebhookReceiver } from '../test/support/webhook-receiver';
import { createDatabase, intOption, loadAverage, machineDescription, runId } from './support';

async function main(): Promise<void> {
  const { values } = parseCli({
    usage: 'npx tsx bench/partner-webhooks.ts [options]',
    summary: 'Partner webhook deliveries per second through one delivery worker to a local receiver (needs PostgreSQL).',
    options: {
      deliveries: { type: 'string', default: '2000', description: 'deliveries queued before the worker starts', placeholder: 'n' },
      endpoints: { type: 'string', default: '8', description: 'endpoints they are spread over', placeholder: 'n' },
      concurrency: { type: 'string', default: '8', description: 'deliveries the worker sends at once', placeholder: 'n' },
      'per-endpoint': { type: 'string', default: '2', description: 'maxInFlightPerEndpoint', placeholder: 'n' },
    },
  });
  const total = intOption('--deliveries', values.deliveries);
  const endpoints = intOption('--endpoints', values.endpoints);
  const concurrency = intOption('--concurrency', values.concurrency);
  const perEndpoint = intOption('--per-endpoint', values['per-endpoint']);
  const database = await createDatabase(`bench_hooks_${runId()}`);
  const db = await connectPostgres(database.url);
  const receiver = await startWebhookReceiver(() => ({ status: 204 }));
  try {
    await migrateAll(db);
    const ring = keyRingFromEnv(undefined, false);
    const admin = partnerWebhookAdmin(db, ring, 'bench');
    for (let i = 0; i < endpoints; i++) await admin.create({ url: `${receiver.url}/${i}`, description: null, eventKinds: ['INVOICE_STATUS'] });
    const events: SyncEventModel[] = Array.from({ length: Math.ceil(total / endpoints) }, (_, i) => ({
      eventId: String(i + 1), tenant: 'bench', jobId: null, kind: 'INVOICE_STATUS', entityType: 'Invoice', entityId: `inv_${i}`, targetSystem: 'ERP',
      state: 'SUCCEEDED', attempts: 0, errorCode: null, message: null, messageParts: null, correlationId: `bench-${i}`, at: new Date().toISOString(),
    }));
    let queued = 0;
    for (let i = 0; i < events.length; i += 500) queued += await enqueuePartnerDeliveries(db, events.slice(i, i + 500));
    const settings = partnerWebhookSettings({ allowLoopbackHttp: true, concurrency, maxInFlightPerEndpoint: perEndpoint, pollMs: 20 }, false);
    const started = performance.now();
    const worker = startDeliveryWorker({ db, ring, settings, logger: createLogger('warn', 'bench-hooks') });
    for (;;) {
      const [row] = await db.query<{ n: string }>("SELECT count(*)::text AS n FROM sync.partner_webhook_deliveries WHERE state = 'SUCCEEDED'");
      if (Number(row?.n) >= queued) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const seconds = (performance.now() - started) / 1000;
    await worker.stop();
    process.stdout.write(`${machineDescription()}\nload average at the end: ${loadAverage()}\n`);
    process.stdout.write(`${queued} deliveries over ${endpoints} endpoints, concurrency ${concurrency}, ${perEndpoint} per endpoint: ` +
      `${seconds.toFixed(2)} s, ${(queued / seconds).toFixed(0)} deliveries/s (receiver got ${receiver.received.length})\n`);
  } finally {
    await receiver.close();
    await db.close();
    await database.drop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench/partner-webhooks.ts: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
