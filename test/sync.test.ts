import { type SystemName, enqueueSyncJob } from '../lib/outbox';
import { quoteToCashFlow } from '../subgraphs/sync/engine/flows/quote-to-cash';
import { startSyncEngine } from '../subgraphs/sync/engine/runtime';
import { FaultInjector } from '../subgraphs/sync/engine/faults';
import { createLogger } from '../lib/logger';
import { job as jobFromRow } from '../subgraphs/sync/ledger/store';
import { codes } from './support/http';
import { type TestStack, startTestStack } from './support/stack';
import { waitForSync } from './support/wait';

interface JobRow { id: string; state: string; attempts: number; target_system: string | null; last_error_code: string | null; result: string | null }

describe('sync engine end to end', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ accounts: 5, env: { SYNC_RETRY_BASE_MS: '10' } });
  });
  afterAll(() => stack.stop());
  afterEach(() => stack.sync.faults.clear());

  const jobsFor = (entityId: string) =>
    stack.db.query<JobRow>('SELECT id, state, attempts, target_system, last_error_code, result FROM sync.jobs WHERE entity_id = $1 ORDER BY target_system', [entityId]);
  const settled = (entityId: string, states: string[], count: number) => async () => {
    const jobs = await jobsFor(entityId);
    return jobs.length === count && jobs.every((j) => states.includes(j.state)) ? jobs : null;
  };
  const createAccount = async (name: string) => {
    const res = await stack.gql<{ createAccount: { id: string } }>('mutation($n: String!) { createAccount(input: { name: $n, billingAddress: { line1: "1 Rue", city: "Paris", country: "FR" } }) { id } }', { n: name });
    expect(res.body.errors).toBeUndefined();
    return res.body.data?.createAccount.id ?? '';
  };

  it('propagates a CRM change to ERP and billing, links external ids and reports IN_SYNC through federation', async () => {
    const id = await createAccount('Propagation GmbH');
    const jobs = await waitForSync(stack, 'acme', settled(id, ['SUCCEEDED'], 2));
    expect(jobs.map((j) => j.target_system)).toEqual(['BILLING', 'ERP']);
    const erp = await stack.db.query<{ name: string; currency: string }>('SELECT name, currency FROM erp.customers WHERE id = $1', [id]);
    expect(erp).toEqual([{ name: 'Propagation GmbH', currency: 'EUR' }]);
    const billing = await stack.db.query<{ name: string }>('SELECT name FROM billing.customers WHERE id = $1', [id]);
    expect(billing).toEqual([{ name: 'Propagation GmbH' }]);

    const renamed = await stack.gql('mutation($id: ID!) { updateAccount(id: $id, input: { name: "Propagation AG" }) { name } }', { id });
    expect(renamed.body.errors).toBeUndefined();
    await waitForSync(stack, 'acme', settled(id, ['SUCCEEDED'], 4));
    expect(await stack.db.query('SELECT name FROM erp.customers WHERE id = $1', [id])).toEqual([{ name: 'Propagation AG' }]);

    const view = await stack.gql<{ account: { externalIds: { system: string }[]; syncStatus: { system: string; state: string }[]; creditStatus: string } }>(
      'query($id: ID!) { account(id: $id) { externalIds { system remoteId } syncStatus { system state lastSyncedAt } creditStatus } }',
      { id },
    );
    expect(view.body.errors).toBeUndefined();
    expect(view.body.data?.account.externalIds.map((e) => e.system).sort()).toEqual(['BILLING', 'CRM', 'ERP']);
    expect(view.body.data?.account.syncStatus).toEqual([
      expect.objectContaining({ system: 'ERP', state: 'IN_SYNC' }),
      expect.objectContaining({ system: 'BILLING', state: 'IN_SYNC' }),
    ]);
  });

  it('retries transient faults with backoff until SUCCEEDED, and keeps the full history', async () => {
    stack.sync.faults.set('ERP', { count: 2, kind: 'SERVER_ERROR', operation: 'upsertCustomer' });
    const id = await createAccount('Flaky Upstream Ltd');
    const jobs = await waitForSync(stack, 'acme', settled(id, ['SUCCEEDED'], 2));
    const erpJob = jobs.find((j) => j.target_system === 'ERP');
    expect(erpJob?.attempts).toBe(3);
    const res = await stack.gql<{ syncJob: { state: string; history: { state: string; errorCode: string | null }[] } }>(
      'query($id: ID!) { syncJob(id: $id) { state attempts history { state errorCode } } }',
      { id: erpJob?.id },
    );
    expect(res.body.data?.syncJob.history.map((h) => h.state)).toEqual(['PENDING', 'RUNNING', 'FAILED', 'RUNNING', 'FAILED', 'RUNNING', 'SUCCEEDED']);
    expect(res.body.data?.syncJob.history.filter((h) => h.state === 'FAILED').map((h) => h.errorCode)).toEqual(['UPSTREAM_5XX', 'UPSTREAM_5XX']);
  });

  it('dead-letters a permanent fault at once, and a replay through the API ends SUCCEEDED', async () => {
    stack.sync.faults.set('BILLING', { count: 1, kind: 'REJECT', operation: 'upsertCustomer' });
    const id = await createAccount('Rejected Inc');
    const jobs = await waitForSync(stack, 'acme', async () => {
      const all = await jobsFor(id);
      return all.some((j) => j.state === 'DEAD_LETTERED') && all.some((j) => j.state === 'SUCCEEDED') ? all : null;
    });
    const dead = jobs.find((j) => j.state === 'DEAD_LETTERED');
    expect(dead).toMatchObject({ target_system: 'BILLING', attempts: 1, last_error_code: 'UPSTREAM_REJECTED' });
    const status = await stack.gql<{ account: { syncStatus: { system: string; state: string }[] } }>('query($id: ID!) { account(id: $id) { syncStatus { system state } } }', { id });
    expect(status.body.data?.account.syncStatus).toContainEqual({ system: 'BILLING', state: 'FAILED' });
    expect(await stack.db.query('SELECT 1 FROM billing.customers WHERE id = $1', [id])).toHaveLength(0);

    const notReplayable = await stack.gql('mutation($id: ID!) { replaySyncJob(id: $id) { state } }', { id: jobs.find((j) => j.state === 'SUCCEEDED')?.id });
    expect(codes(notReplayable)).toEqual(['ILLEGAL_STATE_TRANSITION']);
    const replay = await stack.gql('mutation($id: ID!) { replaySyncJob(id: $id) { state } }', { id: dead?.id });
    expect(replay.body.errors).toBeUndefined();
    await waitForSync(stack, 'acme', settled(id, ['SUCCEEDED'], 2));
    expect(await stack.db.query('SELECT name FROM billing.customers WHERE id = $1', [id])).toEqual([{ name: 'Rejected Inc' }]);
  });

  const openOpportunity = async () => {
    const [customer] = await stack.db.query<{ id: string; currency: string }>("SELECT id, currency FROM erp.customers WHERE tenant_id = 'acme' ORDER BY id LIMIT 1");
    // Room on the credit line, so the credit check is not what these tests are about.
    const credit = await stack.gql('mutation($a: ID!, $c: String!) { setCreditLimit(input: { accountId: $a, creditLimit: { amountMinor: "100000000000", currency: $c }, creditStatus: OK }) { creditStatus } }', { a: customer?.id, c: customer?.currency });
    expect(credit.body.errors).toBeUndefined();
    const res = await stack.gql<{ createOpportunity: { id: string } }>(
      'mutation($a: ID!, $c: String!) { createOpportunity(input: { accountId: $a, name: "Expansion", planCode: "growth", amount: { amountMinor: "1000", currency: $c } }) { id } }',
      { a: customer?.id, c: customer?.currency },
    );
    expect(res.body.errors).toBeUndefined();
    return { id: res.body.data?.createOpportunity.id ?? '', account_id: customer?.id ?? '' };
  };
  const q2cJob = (oppId: string) => async () => {
    const [j] = await jobsFor(oppId);
    return j && ['SUCCEEDED', 'COMPENSATED', 'DEAD_LETTERED'].includes(j.state) ? j : null;
  };
  it('quote-to-cash: closing a won deal creates the subscription and a posted invoice linked to it', async () => {
    const opp = await openOpportunity();
    const res = await stack.gql<{ closeOpportunityWon: { id: string; kind: string } }>('mutation($id: ID!) { closeOpportunityWon(opportunityId: $id) { id kind state } }', { id: opp.id });
    expect(res.body.errors).toBeUndefined();
    const job = await waitForSync(stack, 'acme', q2cJob(opp.id));
    expect(job.state).toBe('SUCCEEDED');
    const invoiceId = /invoice (inv_\w+) posted/.exec(job.result ?? '')?.[1];
    const invoice = await stack.gql<{ invoice: { status: string; subscription: { status: string } | null } }>('query($id: ID!) { invoice(id: $id) { status subscription { status } } }', { id: invoiceId });
    expect(invoice.body.data?.invoice).toEqual({ status: 'POSTED', subscription: { status: 'ACTIVE' } });
    // Closing it again is the same job, not a second order.
    const again = await stack.gql<{ closeOpportunityWon: { id: string } }>('mutation($id: ID!) { closeOpportunityWon(opportunityId: $id) { id } }', { id: opp.id });
    expect(again.body.data?.closeOpportunityWon.id).toBe(res.body.data?.closeOpportunityWon.id);
  });

  it('quote-to-cash with a failing ERP step ends COMPENSATED with no subscription left active', async () => {
    const opp = await openOpportunity();
    stack.sync.faults.set('ERP', { count: 1, kind: 'REJECT', operation: 'createInvoice' });
    await stack.gql('mutation($id: ID!) { closeOpportunityWon(opportunityId: $id) { id } }', { id: opp.id });
    const job = await waitForSync(stack, 'acme', q2cJob(opp.id));
    expect(job.state).toBe('COMPENSATED');
    expect(job.last_error_code).toBe('UPSTREAM_REJECTED');
    expect(job.result).toContain('canceled');
    const subId = /subscription (bsub_\w+) active/.exec(job.result ?? '')?.[1];
    expect(await stack.db.query('SELECT status FROM billing.subscriptions WHERE id = $1', [subId])).toEqual([{ status: 'CANCELED' }]);
  });

  it('a worker that dies mid-job leaves exactly one downstream record after another worker takes over', async () => {
    const opp = await openOpportunity();
    const counts = async () =>
      (await stack.db.query<{ subs: number; links: number }>(
        `SELECT (SELECT count(*)::int FROM billing.subscriptions WHERE account_id = $1) AS subs,
                (SELECT count(*)::int FROM billing.invoice_links l JOIN billing.subscriptions s ON s.id = l.subscription_id WHERE s.account_id = $1) AS links`,
        [opp.account_id],
      ))[0];
    const before = await counts();
    // A worker claims the job and does the downstream writes, then dies before recording the outcome.
    const row = await stack.db.transaction(async (tx) => {
      const id = await enqueueSyncJob(tx, {
        tenant: 'acme', kind: 'QUOTE_TO_CASH', entityType: 'Opportunity', entityId: opp.id, sourceSystem: 'CRM', targetSystem: null,
        correlationId: 'crash-test-0001', idempotencyKey: `crash:${opp.id}`,
        payload: { opportunityId: opp.id, accountId: opp.account_id, planCode: 'growth', amountMinor: '1000', currency: (await tx.query<{ currency: string }>('SELECT currency FROM erp.customers WHERE id = $1', [opp.account_id]))[0]?.currency },
      });
      const [claimed] = await tx.query(`UPDATE sync.jobs SET state = 'RUNNING', attempts = 1, locked_by = 'dead-worker', locked_until = now() + interval '1 hour' WHERE id = $1 RETURNING *`, [id]);
      return claimed;
    });
    if (!row) throw new Error('no job');
    await quoteToCashFlow(stack.db, stack.sync.systems)(jobFromRow(row));
    // Its lock runs out (as it would 30 s after the crash) and a live worker picks the job up again.
    await stack.db.query(`UPDATE sync.jobs SET locked_until = now() - interval '1 second' WHERE id = $1`, [row['id']]);
    stack.sync.worker.wake();
    const job = await waitForSync(stack, 'acme', q2cJob(opp.id));
    expect(job.state).toBe('SUCCEEDED');
    expect(job.attempts).toBe(2);
    const after = await counts();
    // One subscription and one invoice, although the flow's writes ran twice.
    expect({ subs: (after?.subs ?? 0) - (before?.subs ?? 0), links: (after?.links ?? 0) - (before?.links ?? 0) }).toEqual({ subs: 1, links: 1 });
  });

  it('invoice to ledger: a billing invoice is posted in the ERP with a balanced entry, and its payment makes both sides PAID', async () => {
    const [sub] = await stack.db.query<{ id: string }>("SELECT id FROM billing.subscriptions WHERE tenant_id = 'acme' AND status = 'ACTIVE' ORDER BY id LIMIT 1");
    const issued = await stack.gql<{ issueSubscriptionInvoice: { id: string; status: string; amount: { amountMinor: string; currency: string } } }>(
      'mutation($s: ID!) { issueSubscriptionInvoice(subscriptionId: $s) { id status amount { amountMinor currency } } }', { s: sub?.id });
    expect(issued.body.errors).toBeUndefined();
    const invoice = issued.body.data?.issueSubscriptionInvoice;
    expect(invoice?.status).toBe('ISSUED');
    const id = invoice?.id ?? '';
    await waitForSync(stack, 'acme', settled(id, ['SUCCEEDED'], 1));
    const view = (q: string) => stack.gql<{ invoice: { status: string; billingStatus: string; amountDue: { amountMinor: string }; subscription: { id: string } } }>(q, { id });
    const posted = await view('query($id: ID!) { invoice(id: $id) { status billingStatus amountDue { amountMinor } subscription { id } } }');
    expect(posted.body.data?.invoice).toEqual({ status: 'POSTED', billingStatus: 'ISSUED', amountDue: { amountMinor: invoice?.amount.amountMinor }, subscription: { id: sub?.id } });
    const entries = await stack.gql<{ journalEntries: { nodes: { lines: { debit: { amountMinor: string }; credit: { amountMinor: string } }[] }[] } }>(
      'query($id: ID!) { journalEntries(filter: { sourceId: $id }) { nodes { lines { accountCode debit { amountMinor } credit { amountMinor } } } } }', { id });
    const lines = entries.body.data?.journalEntries.nodes.flatMap((n) => n.lines) ?? [];
    expect(lines.length).toBeGreaterThan(0);
    const sum = (k: 'debit' | 'credit') => lines.reduce((t, l) => t + BigInt(l[k].amountMinor), 0n);
    expect(sum('debit')).toBe(sum('credit'));
    expect(sum('debit')).toBe(BigInt(invoice?.amount.amountMinor ?? '0'));

    const overpaid = await stack.gql('mutation($id: ID!, $c: String!) { recordBillingPayment(invoiceId: $id, amount: { amountMinor: "999999999", currency: $c }) { status } }', { id, c: invoice?.amount.currency });
    expect(codes(overpaid)).toEqual(['ILLEGAL_STATE_TRANSITION']);
    const paid = await stack.gql<{ recordBillingPayment: { status: string } }>('mutation($id: ID!, $a: String!, $c: String!) { recordBillingPayment(invoiceId: $id, amount: { amountMinor: $a, currency: $c }) { status } }', { id, a: invoice?.amount.amountMinor, c: invoice?.amount.currency });
    expect(paid.body.data?.recordBillingPayment.status).toBe('PAID');
    const [payment] = await stack.db.query<{ id: string }>('SELECT id FROM billing.payments WHERE invoice_id = $1', [id]);
    await waitForSync(stack, 'acme', settled(payment?.id ?? '', ['SUCCEEDED'], 1));
    const after = await view('query($id: ID!) { invoice(id: $id) { status billingStatus amountDue { amountMinor } subscription { id } } }');
    expect(after.body.data?.invoice).toMatchObject({ status: 'PAID', billingStatus: 'PAID', amountDue: { amountMinor: '0' } });
    expect(await stack.db.query('SELECT 1 FROM erp.payments WHERE reference = $1', [payment?.id])).toHaveLength(1);
  });

  it('two workers on one Postgres share the jobs and never run the same job twice', async () => {
    // Every downstream call of a flow passes the engine's fault injector: counting them shows this engine ran jobs.
    class CountingFaults extends FaultInjector {
      calls = 0;
      override async guard<T>(system: SystemName, operation: string, call: () => Promise<T>): Promise<T> {
        this.calls += 1;
        return super.guard(system, operation, call);
      }
    }
    const secondFaults = new CountingFaults();
    const second = startSyncEngine({
      db: stack.db, bus: stack.bus, logger: createLogger('silent', 'test'), faults: secondFaults,
      retry: { baseDelayMs: 10, maxDelayMs: 100 }, reconcileIntervalSeconds: 0,
    });
    try {
      const ids = await stack.db.query<{ id: string }>("SELECT id FROM crm.accounts WHERE tenant_id = 'acme' ORDER BY id LIMIT 5");
      const created = await stack.db.transaction(async (tx) => {
        const out: string[] = [];
        for (let i = 0; i < 40; i++) {
          const account = ids[i % ids.length];
          const id = await enqueueSyncJob(tx, {
            tenant: 'acme', kind: 'ACCOUNT_UPSERT', entityType: 'Account', entityId: account?.id ?? '', sourceSystem: 'CRM',
            targetSystem: i % 2 ? 'ERP' : 'BILLING', correlationId: 'two-workers-0001', idempotencyKey: `two-workers:${i}`,
          });
          if (id) out.push(id);
        }
        return out;
      });
      stack.sync.worker.wake();
      second.worker.wake();
      await waitForSync(stack, 'acme', async () => {
        const [r] = await stack.db.query<{ n: number }>("SELECT count(*)::int AS n FROM sync.jobs WHERE id = ANY($1::text[]) AND state = 'SUCCEEDED'", [created]);
        return r?.n === created.length;
      });
      const runs = await stack.db.query<{ job_id: string; n: number }>(
        "SELECT job_id, count(*)::int AS n FROM sync.events WHERE job_id = ANY($1::text[]) AND state = 'RUNNING' GROUP BY job_id",
        [created],
      );
      expect(runs).toHaveLength(40);
      expect(runs.every((r) => r.n === 1)).toBe(true);
      expect(secondFaults.calls).toBeGreaterThan(0);
    } finally {
      await second.stop();
    }
  });
});

describe('idempotency keys and reconciliation', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ accounts: 4, env: { SYNC_RETRY_BASE_MS: '10' } });
  });
  afterAll(() => stack.stop());

  it('replays the first result for the same Idempotency-Key and input, creates nothing, and refuses a different input', async () => {
    const create = (name: string, key: string) =>
      stack.gql<{ createAccount: { id: string } }>('mutation($n: String!) { createAccount(input: { name: $n }) { id } }', { n: name }, { headers: { 'idempotency-key': key } });
    const count = async () => (await stack.db.query<{ n: number }>("SELECT count(*)::int AS n FROM crm.accounts WHERE tenant_id = 'acme'"))[0]?.n;
    const first = await create('Once Only Ltd', 'key-0001');
    const before = await count();
    const retry = await create('Once Only Ltd', 'key-0001');
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(retry.body.data).toEqual(first.body.data);
    expect(await count()).toBe(before);
    const different = await create('Someone Else Ltd', 'key-0001');
    expect(different.status).toBe(409);
    expect(codes(different)).toEqual(['CONFLICT']);
    expect(await count()).toBe(before);
    // Keys are per principal: another user's key of the same name is independent.
    const other = await stack.gql('mutation { createAccount(input: { name: "Other User Co" }) { id } }', {}, { token: await stack.token({ sub: 'someone-else' }), headers: { 'idempotency-key': 'key-0001' } });
    expect(other.body.errors).toBeUndefined();
  });

  it('finds drift introduced behind the engine\'s back, reports it and repairs it', async () => {
    // Let earlier tests' sync jobs finish first, so the only drift is the one made here.
    await waitForSync(stack, 'acme', async () => (await stack.db.query("SELECT 1 FROM sync.jobs WHERE tenant_id = 'acme' AND state IN ('PENDING', 'RUNNING', 'FAILED')")).length === 0);
    const [a, b] = await stack.db.query<{ id: string; name: string }>(
      `SELECT a.id, a.name FROM crm.accounts a JOIN erp.customers e ON e.id = a.id JOIN billing.customers c ON c.tenant_id = a.tenant_id AND c.id = a.id
       WHERE a.tenant_id = 'acme' ORDER BY a.id LIMIT 2`,
    );
    await stack.db.query("UPDATE erp.customers SET name = 'Tampered Name' WHERE id = $1", [a?.id]);
    await stack.db.query('DELETE FROM billing.subscription_items WHERE subscription_id IN (SELECT id FROM billing.subscriptions WHERE account_id = $1)', [b?.id]);
    await stack.db.query('DELETE FROM billing.invoice_links WHERE subscription_id IN (SELECT id FROM billing.subscriptions WHERE account_id = $1)', [b?.id]);
    await stack.db.query('DELETE FROM billing.subscriptions WHERE account_id = $1', [b?.id]);
    await stack.db.query('DELETE FROM billing.customers WHERE id = $1', [b?.id]);
    // Billing says it billed an invoice the ERP does not have (read through both ports).
    await stack.db.query(
      `INSERT INTO billing.invoice_links (tenant_id, invoice_id, subscription_id, period_start, period_end)
       SELECT tenant_id, 'inv_zz_orphan', id, current_period_start, current_period_end FROM billing.subscriptions WHERE tenant_id = 'acme' LIMIT 1`,
    );

    const res = await stack.gql<{ reconcile: { accountsChecked: number; drift: { entityType: string; entityId: string; system: string; kind: string; field: string | null; actual: string | null; repairQueued: boolean }[] } }>(
      'mutation { reconcile { id accountsChecked drift { entityType entityId system kind field expected actual repairQueued } } }',
    );
    expect(res.body.errors).toBeUndefined();
    const drift = res.body.data?.reconcile.drift ?? [];
    expect(drift).toContainEqual(expect.objectContaining({ entityId: a?.id, system: 'ERP', kind: 'FIELD_MISMATCH', field: 'name', actual: 'Tampered Name', repairQueued: true }));
    expect(drift).toContainEqual(expect.objectContaining({ entityId: b?.id, system: 'BILLING', kind: 'MISSING', repairQueued: true }));
    expect(drift).toContainEqual(expect.objectContaining({ entityType: 'Invoice', entityId: 'inv_zz_orphan', system: 'ERP', kind: 'MISSING', repairQueued: false }));
    // Every other linked invoice exists in the ERP: no false orphans.
    expect(drift.filter((d) => d.entityType === 'Invoice').map((d) => d.entityId)).toEqual(['inv_zz_orphan']);
    const latest = await stack.gql<{ latestReconciliation: { drift: unknown[] } }>('{ latestReconciliation { drift { entityId } } }');
    expect(latest.body.data?.latestReconciliation.drift).toHaveLength(drift.length);

    await waitForSync(stack, 'acme', async () => {
      const erp = await stack.db.query<{ name: string }>('SELECT name FROM erp.customers WHERE id = $1', [a?.id]);
      const billing = await stack.db.query('SELECT 1 FROM billing.customers WHERE id = $1', [b?.id]);
      return erp[0]?.name === a?.name && billing.length === 1;
    });
    const again = await stack.gql<{ reconcile: { drift: { entityId: string }[] } }>('mutation { reconcile { drift { entityId } } }');
    expect(again.body.data?.reconcile.drift.filter((d) => d.entityId === a?.id || d.entityId === b?.id)).toEqual([]);
  });
});
