import { HubSpotFake } from '../fakes/hubspot/server';
import { busiestWindow } from '../fakes/http-fake';
import { eventually } from './support/eventually';
import { type ServiceProcess, serviceProcess } from './support/processes';
import { ALL_SCOPES, type TestStack, startTestStack } from './support/stack';

/** Enough pages (100 companies each) that the worker is killed with most of the read still ahead of it. */
const COMPANIES = 2500;
const CLIENT_SECRET = 'hubspot-app-client-secret-bulk';

jest.setTimeout(600_000);

/**
 * The initial sync of a HubSpot portal run by a sync worker process (as deployed), SIGKILLed mid-way and replaced by
 * another: the parent job resumes from its cursor once the dead worker's lock expires, every company becomes exactly
 * one account (no duplicate, no gap), and HubSpot's 10-second rate limit is never exceeded (the fake counts every
 * request and would answer 429). The bench (bench/hubspot-initial-sync.ts) runs the 10,000-company version.
 */
describe('initial sync of HubSpot companies survives a SIGKILLed worker', () => {
  let stack: TestStack;
  let hubspot: HubSpotFake;
  let connectionId: string;
  const workers: ServiceProcess[] = [];

  const admin = <D>(query: string, variables?: Record<string, unknown>) =>
    stack.token({ tenant: 'acme', scopes: [...ALL_SCOPES, 'admin'] }).then((token) => stack.gql<D>(query, variables, { token }));
  const worker = (name: string) => {
    const config = stack.config;
    const w = serviceProcess({
      name, entry: 'subgraphs/sync/worker.ts',
      env: {
        NODE_ENV: 'test', LOG_LEVEL: 'info', DATABASE_URL: config.databaseUrl, REDIS_URL: config.redisUrl, REDIS_KEY_PREFIX: config.redisKeyPrefix,
        SYNC_RETRY_BASE_MS: '200', SYNC_POLL_INTERVAL_SECONDS: '0', RECONCILE_INTERVAL_SECONDS: '0',
      },
    });
    workers.push(w);
    return w;
  };
  const pagesOf = (parentId: string) => stack.db.query<{ state: string; key: string; ids: number }>(
    `SELECT state, idempotency_key AS key, jsonb_array_length(payload->'remoteIds') AS ids FROM sync.jobs
     WHERE tenant_id = 'acme' AND kind = 'REMOTE_PAGE' AND payload->>'parentJobId' = $1`, [parentId]);
  const parentOf = async (id: string) =>
    (await stack.db.query<{ state: string; attempts: number }>(`SELECT state, attempts FROM sync.jobs WHERE id = $1`, [id]))[0];
  const seenSoFar = async (parentId: string) =>
    Number((await stack.db.query<{ n: string }>(`SELECT coalesce(sum(records_seen), 0)::text AS n FROM sync.poll_cursors WHERE kind LIKE $1`, [`initial:${parentId}:%`]))[0]?.n ?? 0);

  beforeAll(async () => {
    hubspot = new HubSpotFake({ tokens: ['pat-na1-bulk'], clientSecret: CLIENT_SECRET });
    await hubspot.start();
    for (let i = 0; i < COMPANIES; i++) hubspot.create('companies', { name: `Bulk Co ${String(i).padStart(5, '0')}`, domain: `bulk-${i}.example` });
    hubspot.pendingEvents.length = 0;
    stack = await startTestStack({ accounts: 2, env: { SYNC_RETRY_BASE_MS: '200', SYNC_POLL_INTERVAL_SECONDS: '0', RECONCILE_INTERVAL_SECONDS: '0' } });
    // The worker processes run every job: the in-process engine of the test stack is stopped.
    await stack.sync.stop();
    const res = await admin<{ createConnection: { id: string } }>('mutation($input: CreateConnectionInput!) { createConnection(input: $input) { id } }', {
      // 5 requests/s (the default is 10): the read takes long enough to be caught mid-way.
      input: { system: 'CRM', adapter: 'hubspot', settings: JSON.stringify({ apiBase: hubspot.url, maxRequestsPerSecond: 5 }), credentials: { apiKey: 'pat-na1-bulk', webhookSecret: CLIENT_SECRET } },
    });
    expect(res.body.errors).toBeUndefined();
    connectionId = res.body.data!.createConnection.id;
  });
  afterAll(async () => {
    for (const w of workers) await w.kill('SIGTERM').catch(() => undefined);
    await stack?.stop();
    await hubspot?.stop();
  });

  it('resumes after SIGKILL with every company exactly once and no 10-second window over the limit', async () => {
    const first = worker('sync-worker-a');
    await first.start();
    const logStart = hubspot.log.length;
    const started = await admin<{ startInitialSync: { id: string } }>('mutation($id: ID!) { startInitialSync(connectionId: $id) { id } }', { id: connectionId });
    expect(started.body.errors).toBeUndefined();
    const parentId = started.body.data!.startInitialSync.id;

    // Killed while the parent is still reading (and page jobs are running next to it).
    await eventually(async () => {
      const seen = await seenSoFar(parentId);
      return seen >= 300 && seen <= COMPANIES - 500 && (await pagesOf(parentId)).length > 0;
    }, 300_000);
    const [parentAtKill, seenAtKill] = [await parentOf(parentId), await seenSoFar(parentId)];
    await first.kill('SIGKILL');
    expect(parentAtKill?.state).toBe('RUNNING');
    expect(seenAtKill).toBeLessThan(COMPANIES);

    // Its replacement takes the dead worker's jobs once their locks expire (30 s) and carries on from the cursor.
    await worker('sync-worker-b').start();
    await eventually(async () => {
      const parent = await parentOf(parentId);
      const pages = await pagesOf(parentId);
      return parent?.state === 'SUCCEEDED' && pages.every((p) => p.state === 'SUCCEEDED');
    }, 500_000);
    expect(workers.flatMap((w) => w.crashes)).toEqual([]);
    const parent = await parentOf(parentId);
    expect(parent!.attempts).toBeGreaterThanOrEqual(2);

    // Pages follow each other without gap or overlap: each starts where the previous one ended (keys are positions).
    const pages = await pagesOf(parentId);
    const positions = pages.map((p) => ({ at: Number(p.key.split(':').pop()), ids: p.ids })).sort((a, b) => a.at - b.at);
    positions.forEach((p, i) => expect(p.at).toBe(i === 0 ? 0 : positions[i - 1]!.at + positions[i - 1]!.ids));

    // Every company is exactly one account, and HubSpot holds that account's id.
    const accounts = await stack.db.query<{ id: string; name: string }>(`SELECT id, name FROM crm.accounts WHERE tenant_id = 'acme' AND name LIKE 'Bulk Co %' ORDER BY name`);
    expect(accounts.map((a) => a.name)).toEqual(Array.from({ length: COMPANIES }, (_, i) => `Bulk Co ${String(i).padStart(5, '0')}`));
    const links = await stack.db.query<{ canonical_id: string; remote_id: string }>(`SELECT canonical_id, remote_id FROM sync.remote_links WHERE connection_id = $1 AND entity_type = 'Account'`, [connectionId]);
    expect(links).toHaveLength(COMPANIES);
    expect(new Set(links.map((l) => l.canonical_id))).toEqual(new Set(accounts.map((a) => a.id)));
    expect(links.every((l) => hubspot.record('companies', l.remote_id)?.properties['sor_canonical_id'] === l.canonical_id)).toBe(true);

    const view = await admin<{ syncJob: { progress: { seen: number; written: number; failed: number; finished: boolean } } }>(
      'query($id: ID!) { syncJob(id: $id) { progress { seen written failed finished } } }', { id: parentId });
    expect(view.body.data?.syncJob.progress).toMatchObject({ failed: 0, finished: true });
    expect(view.body.data!.syncJob.progress.written).toBe(view.body.data!.syncJob.progress.seen);

    // HubSpot's limit held for the whole run, across both processes: no 429, no window above the allowance.
    const calls = hubspot.log.slice(logStart);
    expect(calls.filter((r) => r.status === 429)).toEqual([]);
    expect(busiestWindow(calls, 10_000)).toBeLessThanOrEqual(hubspot.rateLimitPer10s);
  });
});
