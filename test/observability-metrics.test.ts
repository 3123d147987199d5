import { Writable } from 'node:stream';
import pino from 'pino';
import { startGateway } from '../gateway/server';
import type { RunningServer } from '../lib/http/server';
import { createLogger } from '../lib/logger';
import { createRedis } from '../lib/redis';
import { SUBGRAPH_NAMES, type SubgraphName } from '../lib/schema';
import { startWorkerOps } from '../subgraphs/sync/worker-ops';
import { type Family, parsePrometheusText, sampleValue } from './support/prometheus-text';
import { testKeyPrefix } from './support/services';
import { type TestStack, startTestStack } from './support/stack';
import { waitForSync } from './support/wait';
import { collect, wsClient } from './support/ws';

async function scrape(base: string): Promise<Map<string, Family>> {
  const res = await fetch(`${base}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parsePrometheusText(await res.text());
}
const origin = (url: string) => new URL(url).origin;

describe('metrics and health endpoints', () => {
  let stack: TestStack;
  let worker: RunningServer;
  beforeAll(async () => {
    // acme is on the operator's tenant allow-list; globex is not.
    stack = await startTestStack({ accounts: 2, env: { METRICS_TENANTS: 'acme', SYNC_RETRY_BASE_MS: '10' } });
    // What subgraphs/sync/worker.ts serves, on the stack's worker.
    worker = await startWorkerOps({ db: stack.db, worker: stack.sync.worker, host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await worker.close();
    await stack.stop();
  });
  afterEach(() => stack.sync.faults.clear());

  const jobsOf = (id: string) => stack.db.query<{ state: string; target_system: string }>('SELECT state, target_system FROM sync.jobs WHERE entity_id = $1', [id]);
  const createAccount = async (name: string, tenant = 'acme') => {
    const res = await stack.gql<{ createAccount: { id: string } }>(
      'mutation CreateOne($n: String!) { createAccount(input: { name: $n, billingAddress: { line1: "1 Main St", city: "Austin", country: "US" } }) { id } }', { n: name }, { tenant },
    );
    expect(res.body.errors).toBeUndefined();
    return res.body.data?.createAccount.id ?? '';
  };

  it('gateway, subgraph and worker serve valid Prometheus text; RED per operation and subgraph, and the sync latency histogram counts the jobs', async () => {
    const latency = (m: Map<string, Family>, target: string) =>
      sampleValue(m, 'sor_sync_latency_seconds', 'sor_sync_latency_seconds_count', { flow: 'ACCOUNT_UPSERT', target, tenant: 'acme' });
    const before = await scrape(origin(worker.url));
    const id = await createAccount('Metered LLC');
    await waitForSync(stack, 'acme', async () => {
      const jobs = await jobsOf(id);
      return jobs.length === 2 && jobs.every((j) => j.state === 'SUCCEEDED');
    });
    const list = await stack.gql('query ListSome { accounts(first: 2) { nodes { id name balance { amountMinor } } } }');
    expect(list.body.errors).toBeUndefined();

    const gateway = await scrape(origin(stack.url));
    expect(sampleValue(gateway, 'sor_graphql_requests_total', 'sor_graphql_requests_total', { operation: 'CreateOne', type: 'mutation', tenant: 'acme' })).toBeGreaterThanOrEqual(1);
    expect(sampleValue(gateway, 'sor_graphql_request_duration_seconds', 'sor_graphql_request_duration_seconds_count', { operation: 'ListSome', type: 'query' })).toBeGreaterThanOrEqual(1);
    for (const subgraph of ['crm', 'erp']) {
      expect(sampleValue(gateway, 'sor_subgraph_requests_total', 'sor_subgraph_requests_total', { subgraph })).toBeGreaterThanOrEqual(1);
      expect(sampleValue(gateway, 'sor_subgraph_request_duration_seconds', 'sor_subgraph_request_duration_seconds_count', { subgraph })).toBeGreaterThanOrEqual(1);
    }
    expect(sampleValue(gateway, 'sor_response_cache_lookups_total', 'sor_response_cache_lookups_total', { result: 'miss' })).toBeGreaterThanOrEqual(1);
    expect(sampleValue(gateway, 'sor_operation_cost', 'sor_operation_cost_count', { kind: 'user' })).toBeGreaterThanOrEqual(2);

    // One registry per process: this test process's subgraph serves the same families as its gateway.
    const subgraph = await scrape(origin(stack.subgraphs.crm.url));
    expect(subgraph.get('sor_sync_dead_letter_jobs')?.type).toBe('gauge');

    const after = await scrape(origin(worker.url));
    for (const target of ['ERP', 'BILLING']) expect(latency(after, target) - latency(before, target)).toBeGreaterThanOrEqual(1);
    expect(after.get('sor_sync_jobs')?.type).toBe('gauge');
    expect(after.get('sor_sync_oldest_pending_job_age_seconds')?.samples).toHaveLength(1);
  });

  it('bounds labels: tenants off the allow-list are "other", entity ids never appear', async () => {
    const id = await createAccount('Other Tenant Co', 'globex');
    const gateway = await scrape(origin(stack.url));
    const tenants = new Set(gateway.get('sor_graphql_requests_total')?.samples.map((s) => s.labels['tenant']));
    expect(tenants.has('globex')).toBe(false);
    expect(tenants.has('other')).toBe(true);
    const all = [...gateway.values(), ...(await scrape(origin(worker.url))).values()].flatMap((f) => f.samples.flatMap((s) => Object.values(s.labels)));
    expect(all.filter((v) => v.includes(id) || v.startsWith('acc_'))).toEqual([]);

  });

  it('a dead-lettered job raises the dead-letter gauge and the finished counter', async () => {
    const dead = (m: Map<string, Family>) => sampleValue(m, 'sor_sync_dead_letter_jobs', 'sor_sync_dead_letter_jobs', { flow: 'ACCOUNT_UPSERT', target: 'BILLING' });
    // Earlier tests' jobs settle first, so the one injected fault is this account's, not a leftover job's.
    const unsettled = async () => (await stack.db.query<{ n: number }>("SELECT count(*)::int AS n FROM sync.jobs WHERE state IN ('PENDING', 'RUNNING', 'FAILED')"))[0]?.n;
    await waitForSync(stack, ['acme', 'globex'], async () => (await unsettled()) === 0);
    const before = await scrape(origin(worker.url));
    stack.sync.faults.set('BILLING', { count: 1, kind: 'REJECT', operation: 'upsertCustomer' });
    const id = await createAccount('Dead Letter Ltd');
    await waitForSync(stack, 'acme', async () => (await jobsOf(id)).some((j) => j.state === 'DEAD_LETTERED'));
    const after = await scrape(origin(worker.url));
    expect(dead(after)).toBe(dead(before) + 1);
    expect(sampleValue(after, 'sor_sync_jobs', 'sor_sync_jobs', { state: 'DEAD_LETTERED', flow: 'ACCOUNT_UPSERT', target: 'BILLING' })).toBe(dead(after));
    expect(sampleValue(after, 'sor_sync_jobs_finished_total', 'sor_sync_jobs_finished_total', { flow: 'ACCOUNT_UPSERT', target: 'BILLING', outcome: 'dead_lettered' })).toBeGreaterThanOrEqual(1);
  });

  it('counts webhook refusals without taking the caller\'s path as a label', async () => {
    const refusals = (m: Map<string, Family>) => sampleValue(m, 'sor_webhook_refusals_total', 'sor_webhook_refusals_total', { vendor: 'unknown', reason: 'unknown_connection' });
    const before = await scrape(origin(stack.url));
    const res = await fetch(`${origin(stack.subgraphs.sync.url)}/webhooks/made-up-vendor/conn_missing`, { method: 'POST', body: '{}' });
    expect(res.status).toBe(404);
    const after = await scrape(origin(stack.url));
    expect(refusals(after)).toBe(refusals(before) + 1);
    expect(JSON.stringify([...after.values()])).not.toContain('made-up-vendor');
  });

  it('counts open WebSocket connections and running subscriptions', async () => {
    const { client } = wsClient(stack.url, await stack.token());
    try {
      const sub = collect(client, 'subscription { syncStatusChanged(after: "0", filter: { entityType: "Account" }) { eventId } }');
      // Running once it has delivered an event: the account's sync jobs publish some, replayed from the ledger if they
      // were published before the subscription had joined the bus.
      await createAccount('Subscribed Corp');
      await sub.next(1);
      expect(sub.error).toBeNull();
      const m = await scrape(origin(stack.url));
      expect(sampleValue(m, 'sor_websocket_connections', 'sor_websocket_connections', {})).toBe(1);
      expect(sampleValue(m, 'sor_subscriptions_active', 'sor_subscriptions_active', {})).toBe(1);
      sub.dispose();
    } finally {
      await client.dispose();
    }
  });

  it('gateway readiness reports the supergraph, and Redis down as degraded but still ready', async () => {
    const ok = await (await fetch(`${origin(stack.url)}/readyz`)).json();
    expect(ok).toEqual({ status: 'ready', checks: { supergraph: 'ok', redis: 'ok' } });

    const deadRedis = createRedis('redis://127.0.0.1:1', testKeyPrefix('obs-dead'));
    const subgraphUrls = Object.fromEntries(SUBGRAPH_NAMES.map((n) => [n, stack.subgraphs[n].url])) as Record<SubgraphName, string>;
    const degraded = await startGateway({ config: stack.config, logger: createLogger('silent', 'test'), redis: deadRedis, port: 0, subgraphUrls });
    try {
      const res = await fetch(`${origin(degraded.url)}/readyz`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ status: 'ready', checks: { supergraph: 'ok', redis: 'degraded' } });
    } finally {
      await degraded.close();
      deadRedis.disconnect();
    }
  });

  it('logs one info line per request with operation, duration, status, tenant and principal kind, never the token', async () => {
    const lines: string[] = [];
    const sink = new Writable({ write(chunk: Buffer, _enc, done) { lines.push(...chunk.toString('utf8').split('\n').filter(Boolean)); done(); } });
    const subgraphUrls = Object.fromEntries(SUBGRAPH_NAMES.map((n) => [n, stack.subgraphs[n].url])) as Record<SubgraphName, string>;
    const gateway = await startGateway({ config: stack.config, logger: pino({ level: 'info' }, sink), port: 0, subgraphUrls });
    try {
      const token = await stack.token({ kind: 'partner', sub: 'log-partner', scopes: ['crm:read'] });
      const res = await fetch(gateway.url, {
        method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'x-correlation-id': 'log-test-0001' },
        body: JSON.stringify({ query: 'query Logged { accounts(first: 1) { nodes { id } } }' }),
      });
      expect(res.status).toBe(200);
      const requests = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l['msg'] === 'request');
      expect(requests).toEqual([expect.objectContaining({
        level: 30, operationName: 'Logged', status: 200, tenant: 'acme', principalKind: 'partner', correlationId: 'log-test-0001', durationMs: expect.any(Number),
      })]);
      expect(lines.join('\n')).not.toContain(token);
    } finally {
      await gateway.close();
    }
  });

  it('worker readiness needs the database and running loops; /healthz answers while not ready', async () => {
    const readyz = () => fetch(`${origin(worker.url)}/readyz`);
    const up = await readyz();
    expect(up.status).toBe(200);
    expect(await up.json()).toEqual({ status: 'ready', checks: { database: 'ok', loops: 'ok' } });
    // Last test of the file: stops the stack's worker (stack.stop() stopping it again is harmless).
    await stack.sync.worker.stop();
    const down = await readyz();
    expect(down.status).toBe(503);
    expect(await down.json()).toEqual({ status: 'not ready', checks: { database: 'ok', loops: 'stopped' } });
    expect((await fetch(`${origin(worker.url)}/healthz`)).status).toBe(200);
  });
});
