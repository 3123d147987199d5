import { type StripeFake, startStripeFake } from '../fakes/stripe/server';
import { enqueueSyncJob } from '../lib/outbox';
import { quoteToCashFlow } from '../subgraphs/sync/engine/flows/quote-to-cash';
import { job as jobFromRow } from '../subgraphs/sync/ledger/store';
import { stripeSignature } from '../fakes/stripe/webhooks';
import { ALL_SCOPES, type TestStack, startTestStack } from './support/stack';
import { waitForSync } from './support/wait';
import { CONNECTION_FIELDS, type ConnectionView, connectStripe } from './support/stripe-connection';
import { closeWon as closeDeal, jobSettled, openOpportunity as openDeal } from './support/quote-to-cash';

const WEBHOOK_SECRET = 'whsec_connectors_test_secret_0123456789';

/**
 * The connection layer end to end: acme's billing on the Stripe adapter against the Stripe fake over HTTP, globex on
 * the reference store, in one deployment (gateway, subgraphs, in-process worker, Postgres, Redis).
 */
describe('connections: acme on Stripe, globex on the reference store', () => {
  let stack: TestStack;
  let fake: StripeFake;
  let account: { accountId: string; secretKey: string };
  let connection: ConnectionView;
  let adminToken: string;

  const admin = <D>(query: string, variables?: Record<string, unknown>, tenant = 'acme') =>
    stack.token({ tenant, scopes: [...ALL_SCOPES, 'admin'] }).then((token) => stack.gql<D>(query, variables, { token }));
  const webhookUrl = (path: string) => stack.subgraphs.sync.url.replace(/\/graphql$/, path);
  const status = async () =>
    (await stack.gql<{ connection: ConnectionView }>(`query($id: ID!) { connection(id: $id) { ${CONNECTION_FIELDS} } }`, { id: connection.id }, { token: adminToken })).body.data?.connection;

  const openOpportunity = (tenant: string) => openDeal(stack, tenant);
  const closeWon = (tenant: string, opportunityId: string) => closeDeal(stack, tenant, opportunityId);
  const jobDone = (jobId: string, states?: string[]) => jobSettled(stack, jobId, states);

  beforeAll(async () => {
    fake = await startStripeFake();
    // Retries spaced so that a job's five attempts outlast "Stripe down" until the test has seen the circuit open and heals
    // Stripe (with 500 ms the job ended COMPENSATED in one CI run: most likely its attempts ran out first).
    stack = await startTestStack({ accounts: 12, env: { SYNC_RETRY_BASE_MS: '1500' } });
    adminToken = await stack.token({ scopes: [...ALL_SCOPES, 'admin'] });
    ({ connection, account } = await connectStripe(stack, fake, { webhookSecret: WEBHOOK_SECRET, webhookBase: webhookUrl('') }));
  });
  afterEach(() => {
    fake.heal();
    fake.webhooks.release();
  });
  afterAll(async () => {
    await stack.stop();
    await fake.close();
  });

  it('shows a fingerprint and the last four characters of the key, never the key; stores it sealed', async () => {
    expect(connection.credentials?.last4).toBe(account.secretKey.slice(-4));
    expect(connection.credentials?.fingerprint).toMatch(/^sha256:[0-9a-f]{16}$/);
    const [row] = await stack.db.query<{ row: string }>('SELECT row_to_json(c)::text AS row FROM sync.connections c WHERE id = $1', [connection.id]);
    expect(row?.row).not.toContain(account.secretKey);
    expect(row?.row).not.toContain(WEBHOOK_SECRET);
    const tested = await admin<{ testConnection: { ok: boolean; accountId: string } }>('mutation($id: ID!) { testConnection(id: $id) { ok accountId errorCode } }', { id: connection.id });
    expect(tested.body.data?.testConnection).toEqual({ ok: true, accountId: account.accountId, errorCode: null });
    // Connections are tenant administration: a user without admin is refused, another tenant does not see it.
    const plain = await stack.gql('{ connections { id } }');
    expect(plain.body.errors?.[0]?.extensions?.['code']).toBe('FORBIDDEN');
    const globex = await admin<{ connection: unknown }>('query($id: ID!) { connection(id: $id) { id } }', { id: connection.id }, 'globex');
    expect(globex.body.data?.connection).toBeNull();
  });

  it('quote-to-cash for acme creates exactly one Stripe customer, subscription and invoice, one Idempotency-Key per write; globex never reaches Stripe', async () => {
    const globexBefore = fake.log.length;
    const globexOpp = await openOpportunity('globex');
    const globexJob = await waitForSync(stack, 'globex', jobDone(await closeWon('globex', globexOpp.id)));
    expect(globexJob.state).toBe('SUCCEEDED');
    // Events of acme's own webhooks may re-read acme records meanwhile; none of the requests is globex's.
    expect(fake.log.slice(globexBefore).filter((r) => r.method === 'POST')).toEqual([]);

    const opp = await openOpportunity('acme');
    const job = await waitForSync(stack, 'acme', jobDone(await closeWon('acme', opp.id)));
    expect(job.state).toBe('SUCCEEDED');
    const store = fake.account(account.accountId);
    const customers = [...store.customers.values()].filter((c) => c.metadata?.['canonicalId'] === opp.accountId);
    expect(customers).toHaveLength(1);
    const subs = [...store.subscriptions.values()].filter((s) => s.customer === customers[0]?.id);
    expect(subs).toHaveLength(1);
    expect([...store.invoices.values()].filter((i) => i.customer === customers[0]?.id)).toHaveLength(1);
    const writes = fake.writes();
    expect(writes.every((w) => w.idempotencyKey !== null)).toBe(true);
    expect(new Set(writes.map((w) => w.idempotencyKey)).size).toBe(writes.length);
    // The vendor's id is the account's BILLING external id.
    const view = await stack.gql<{ account: { externalIds: { system: string; remoteId: string }[] } }>('query($id: ID!) { account(id: $id) { externalIds { system remoteId } } }', { id: opp.accountId });
    expect(view.body.data?.account.externalIds).toContainEqual({ system: 'BILLING', remoteId: customers[0]?.id });
  });

  it('a worker killed mid-job (its Stripe answer lost) leaves one customer, subscription and invoice after another worker takes over', async () => {
    const opp = await openOpportunity('acme');
    const [erp] = await stack.db.query<{ currency: string }>('SELECT currency FROM erp.customers WHERE id = $1', [opp.accountId]);
    const row = await stack.db.transaction(async (tx) => {
      const id = await enqueueSyncJob(tx, {
        tenant: 'acme', kind: 'QUOTE_TO_CASH', entityType: 'Opportunity', entityId: opp.id, sourceSystem: 'CRM', targetSystem: null,
        correlationId: 'stripe-crash-0001', idempotencyKey: `stripe-crash:${opp.id}`,
        payload: { opportunityId: opp.id, accountId: opp.accountId, planCode: 'growth', amountMinor: '4900', currency: erp?.currency },
      });
      const [claimed] = await tx.query(`UPDATE sync.jobs SET state = 'RUNNING', attempts = 1, locked_by = 'dead-worker', locked_until = now() + interval '1 hour' WHERE id = $1 RETURNING *`, [id]);
      return claimed;
    });
    if (!row) throw new Error('no job');
    // The dying worker: Stripe creates the customer but the answer is lost (the adapter re-sends it with the same key
    // and gets the first answer replayed); the worker then does every other step and dies before recording the outcome.
    // Webhooks are held and earlier jobs settled first, so the lost answer is this flow's.
    fake.webhooks.hold();
    await fake.webhooks.settled();
    await waitForSync(stack, 'acme', async () => (await stack.db.query("SELECT 1 FROM sync.jobs WHERE tenant_id = 'acme' AND state IN ('PENDING', 'RUNNING', 'FAILED') AND id <> $1", [row['id']])).length === 0);
    const before = fake.log.length;
    fake.dropResponseNext(1);
    await quoteToCashFlow(stack.db, stack.sync.systems)(jobFromRow(row));
    const customerPosts = fake.log.slice(before).filter((r) => r.method === 'POST' && r.path === '/v1/customers');
    expect(customerPosts.map((r) => r.replayed)).toEqual([false, true]);
    expect(customerPosts[0]?.idempotencyKey).toBe(customerPosts[1]?.idempotencyKey);
    fake.webhooks.release();
    // Its lock runs out and a live worker runs the job from the start.
    await stack.db.query(`UPDATE sync.jobs SET locked_until = now() - interval '1 second' WHERE id = $1`, [row['id']]);
    stack.sync.worker.wake();
    const job = await waitForSync(stack, 'acme', jobDone(String(row['id'])), 30_000);
    expect(job.state).toBe('SUCCEEDED');
    const store = fake.account(account.accountId);
    const customers = [...store.customers.values()].filter((c) => c.metadata?.['canonicalId'] === opp.accountId);
    expect(customers).toHaveLength(1);
    expect([...store.subscriptions.values()].filter((s) => s.customer === customers[0]?.id)).toHaveLength(1);
    expect([...store.invoices.values()].filter((i) => i.customer === customers[0]?.id)).toHaveLength(1);
    // Every write that created something carried its own key; the take-over created nothing new.
    const fresh = fake.log.slice(before).filter((r) => r.method === 'POST' && r.status < 300 && !r.replayed).map((w) => w.idempotencyKey);
    expect(fresh.every((k) => k !== null)).toBe(true);
    expect(new Set(fresh).size).toBe(fresh.length);
  });

  it('a signed invoice.paid applies the payment in the ERP once, delivered twice; a bad signature is 401 and stores nothing', async () => {
    const opp = await openOpportunity('acme');
    const job = await waitForSync(stack, 'acme', jobDone(await closeWon('acme', opp.id)));
    expect(job.state).toBe('SUCCEEDED');
    const erpInvoiceId = /invoice (inv_\w+) posted/.exec(job.result ?? '')?.[1] ?? '';
    const [link] = await stack.db.query<{ remote_id: string }>("SELECT remote_id FROM sync.remote_links WHERE entity_type = 'Invoice' AND canonical_id = $1", [erpInvoiceId]);
    expect(link).toBeDefined();
    const paid = fake.payInvoice(account.accountId, link?.remote_id ?? '');
    expect(paid.status).toBe('paid');
    const event = fake.account(account.accountId).events.filter((e) => e.type === 'invoice.paid').at(-1);
    const applied = async () => {
      const rows = await stack.db.query<{ status: string }>("SELECT status FROM erp.invoices WHERE id = $1 AND status = 'PAID'", [erpInvoiceId]);
      return rows.length === 1;
    };
    await waitForSync(stack, 'acme', applied);
    fake.resendEvent(account.accountId, event?.id ?? '');
    await fake.webhooks.settled();
    const storedOnce = await stack.db.query('SELECT 1 FROM sync.remote_events WHERE connection_id = $1 AND event_id = $2', [connection.id, event?.id]);
    expect(storedOnce).toHaveLength(1);
    const payments = await stack.db.query('SELECT id FROM erp.payments WHERE tenant_id = $1 AND reference = $2', ['acme', link?.remote_id]);
    expect(payments).toHaveLength(1);

    const body = JSON.stringify({ id: 'evt_forged', type: 'invoice.paid', created: 1, data: { object: { id: link?.remote_id, object: 'invoice' } } });
    const forged = await fetch(webhookUrl(connection.webhookPath ?? ''), { method: 'POST', body, headers: { 'content-type': 'application/json', 'stripe-signature': stripeSignature(body, 'whsec_wrong') } });
    expect(forged.status).toBe(401);
    const missing = await fetch(webhookUrl(connection.webhookPath ?? ''), { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    expect(missing.status).toBe(401);
    expect(await stack.db.query("SELECT 1 FROM sync.remote_events WHERE event_id = 'evt_forged'")).toHaveLength(0);
    const unknown = await fetch(webhookUrl('/webhooks/stripe/conn_nope'), { method: 'POST', body, headers: { 'stripe-signature': stripeSignature(body, WEBHOOK_SECRET) } });
    expect(unknown.status).toBe(404);
  });

  it('two invoice events out of order have one effect and the final state is right', async () => {
    const opp = await openOpportunity('acme');
    fake.webhooks.hold();
    const job = await waitForSync(stack, 'acme', jobDone(await closeWon('acme', opp.id)));
    const erpInvoiceId = /invoice (inv_\w+) posted/.exec(job.result ?? '')?.[1] ?? '';
    const [link] = await stack.db.query<{ remote_id: string }>("SELECT remote_id FROM sync.remote_links WHERE entity_type = 'Invoice' AND canonical_id = $1", [erpInvoiceId]);
    fake.payInvoice(account.accountId, link?.remote_id ?? '');
    // Newest first: invoice.paid arrives before the invoice's creation and finalization events.
    fake.webhooks.release((held) => [...held].reverse());
    await fake.webhooks.settled();
    await waitForSync(stack, 'acme', async () => (await stack.db.query("SELECT 1 FROM erp.invoices WHERE id = $1 AND status = 'PAID'", [erpInvoiceId])).length === 1);
    expect(await stack.db.query('SELECT id FROM erp.payments WHERE reference = $1', [link?.remote_id])).toHaveLength(1);
  });

  it('Stripe down: jobs retry, the circuit opens (connection.status), closes, and the backlog drains', async () => {
    const opp = await openOpportunity('acme');
    fake.failNext(1000, 503);
    const jobId = await closeWon('acme', opp.id);
    // The open circuit shows on the connection and on the account's billing sync status.
    const open = await waitForSync(stack, 'acme', async () => {
      const s = await status();
      if (s?.status.state !== 'CIRCUIT_OPEN') return null;
      const view = await stack.gql<{ account: { syncStatus: { system: string; connectionState: string | null }[] } }>('query($id: ID!) { account(id: $id) { syncStatus { system connectionState } } }', { id: opp.accountId });
      const billing = view.body.data?.account.syncStatus.find((x) => x.system === 'BILLING');
      return billing?.connectionState === 'CIRCUIT_OPEN' ? s : null;
    });
    expect(open.status.lastError).toMatch(/circuit/);
    fake.heal();
    const job = await waitForSync(stack, 'acme', jobDone(jobId), 60_000);
    expect(job.state).toBe('SUCCEEDED');
    expect(job.attempts).toBeGreaterThan(1);
    expect((await status())?.status.state).toBe('OK');
    // The outbound limit of the connection (20/s) held over everything sent so far.
    expect(fake.maxRequestsPer(1000)).toBeLessThanOrEqual(20);
  });

  it('429 with Retry-After: no call reaches Stripe before the delay', async () => {
    const opp = await openOpportunity('acme');
    const before = fake.log.length;
    fake.rateLimitNext(1, 1);
    const job = await waitForSync(stack, 'acme', jobDone(await closeWon('acme', opp.id)), 60_000);
    expect(job.state).toBe('SUCCEEDED');
    const log = fake.log.slice(before);
    const limited = log.find((r) => r.status === 429);
    expect(limited).toBeDefined();
    const next = log[log.indexOf(limited ?? log[0]!) + 1];
    expect((next?.at ?? 0) - (limited?.at ?? 0)).toBeGreaterThanOrEqual(1000);
  });

  it('revoked key: the job is dead-lettered with AUTH_ERROR and the connection marked; after rotation the replay succeeds; the key is never shown or audited', async () => {
    const opp = await openOpportunity('acme');
    const newKey = fake.rollKey(account.secretKey);
    const jobId = await closeWon('acme', opp.id);
    const dead = await waitForSync(stack, 'acme', jobDone(jobId, ['DEAD_LETTERED', 'COMPENSATED']));
    expect(dead.last_error_code).toBe('AUTH_ERROR');
    expect((await status())?.status.state).toBe('AUTH_ERROR');

    const rotated = await stack.gql<{ rotateConnectionCredentials: ConnectionView }>(
      `mutation($id: ID!, $c: ConnectionCredentialsInput!) { rotateConnectionCredentials(id: $id, credentials: $c) { ${CONNECTION_FIELDS} } }`,
      { id: connection.id, c: { apiKey: newKey, webhookSecret: WEBHOOK_SECRET } },
      { token: adminToken, headers: { 'x-correlation-id': 'rotate-credentials-01' } },
    );
    expect(rotated.body.errors).toBeUndefined();
    expect(JSON.stringify(rotated.body)).not.toContain(newKey);
    expect(rotated.body.data?.rotateConnectionCredentials.credentials?.last4).toBe(newKey.slice(-4));
    expect(rotated.body.data?.rotateConnectionCredentials.status.state).toBe('OK');

    const replay = await stack.gql<{ replaySyncJob: { state: string } }>('mutation($id: ID!) { replaySyncJob(id: $id) { state } }', { id: jobId });
    expect(replay.body.errors).toBeUndefined();
    const done = await waitForSync(stack, 'acme', jobDone(jobId, ['SUCCEEDED']), 30_000);
    expect(done.state).toBe('SUCCEEDED');

    const audit = await stack.db.query<{ arguments: unknown }>("SELECT arguments FROM sync.audit_log WHERE tenant_id = 'acme' AND correlation_id = 'rotate-credentials-01'");
    expect(audit).toHaveLength(1);
    const everything = JSON.stringify(await stack.db.query("SELECT * FROM sync.audit_log WHERE tenant_id = 'acme'"));
    for (const secret of [newKey, account.secretKey, WEBHOOK_SECRET]) expect(everything).not.toContain(secret);
    const list = await stack.gql('{ connections { id adapter settings credentials { fingerprint last4 } status { state lastError } } }', {}, { token: adminToken });
    for (const secret of [newKey, account.secretKey, WEBHOOK_SECRET]) expect(JSON.stringify(list.body)).not.toContain(secret);
  });
});
