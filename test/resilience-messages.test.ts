import { recordedMessage } from '../subgraphs/sync/engine/recorded-message';
import { REDACTED, renderFor } from '../lib/scoped-message';
import { type TestStack, startTestStack } from './support/stack';
import { EVENT_COLS, event } from '../subgraphs/sync/ledger/store';
import { syncChannel } from '../lib/events';
import { eventually } from './support/eventually';
import { waitForSync } from './support/wait';
import { collect, wsClient } from './support/ws';

/**
 * Issue 11, item 12: a message a sync job records shows each value only to readers whose scopes may read it (a credit
 * limit, a credit status: finance:read), on every path: job queries, history, the dead-letter list, the event feed,
 * live and resumed subscriptions.
 */
describe("messages recorded by sync jobs, shown by the reader's scopes", () => {
  let stack: TestStack;
  const closers: (() => Promise<void> | void)[] = [];
  let financeToken: string;
  let plainToken: string;
  beforeAll(async () => {
    stack = await startTestStack({ accounts: 3 });
    financeToken = await stack.token({ sub: 'finance-reader', scopes: ['crm:read', 'sync:read', 'finance:read'] });
    plainToken = await stack.token({ sub: 'plain-reader', scopes: ['crm:read', 'sync:read'] });
  }, 120_000);
  afterAll(async () => {
    for (const close of closers.reverse()) await close();
    await stack?.stop();
  });

  const JOB_FIELDS = 'id state lastErrorCode lastErrorMessage history { message }';
  const EVENT_FIELDS = 'eventId state message';
  const LIVE = `subscription($id: ID!) { syncStatusChanged(filter: { entityId: $id, states: [COMPENSATED] }) { event { ${EVENT_FIELDS} } job { ${JOB_FIELDS} } } }`;
  const RESUMED = `subscription($id: ID!) { syncStatusChanged(after: "0", filter: { entityId: $id, states: [COMPENSATED] }) { event { ${EVENT_FIELDS} } } }`;

  /** Sets the customer's credit, opens a deal and closes it won; the credit check fails; its event is then delivered live. */
  async function failCreditCheck(offset: number, credit: { limit: string; status: 'OK' | 'BLOCKED' }, amount: string) {
    const [customer] = await stack.db.query<{ id: string; currency: string }>("SELECT id, currency FROM erp.customers WHERE tenant_id = 'acme' ORDER BY id OFFSET $1 LIMIT 1", [offset]);
    const set = await stack.gql('mutation($a: ID!, $c: String!, $l: String!, $s: CreditStatus!) { setCreditLimit(input: { accountId: $a, creditLimit: { amountMinor: $l, currency: $c }, creditStatus: $s }) { creditStatus } }', {
      a: customer?.id, c: customer?.currency, l: credit.limit, s: credit.status,
    });
    expect(set.body.errors).toBeUndefined();
    const opp = await stack.gql<{ createOpportunity: { id: string } }>(
      'mutation($a: ID!, $c: String!, $m: String!) { createOpportunity(input: { accountId: $a, name: "Huge", planCode: "growth", amount: { amountMinor: $m, currency: $c } }) { id } }',
      { a: customer?.id, c: customer?.currency, m: amount },
    );
    expect(opp.body.errors).toBeUndefined();
    const opportunityId = opp.body.data?.createOpportunity.id ?? '';
    const closed = await stack.gql<{ closeOpportunityWon: { id: string } }>('mutation($id: ID!) { closeOpportunityWon(opportunityId: $id) { id } }', { id: opportunityId });
    const jobId = closed.body.data?.closeOpportunityWon.id ?? '';
    const job = await waitForSync(stack, 'acme', async () => {
      const [j] = await stack.db.query<{ state: string; last_error_code: string }>('SELECT state, last_error_code FROM sync.jobs WHERE id = $1', [jobId]);
      return j && ['COMPENSATED', 'DEAD_LETTERED'].includes(j.state) ? j : null;
    });
    expect(job).toMatchObject({ state: 'COMPENSATED', last_error_code: 'CREDIT_CHECK_FAILED' });
    return { jobId, opportunityId, live: await liveDelivery(jobId, opportunityId) };
  }

  /**
   * The live path: two subscribers (with and without finance:read) wait on the bus, and the job's COMPENSATED event is
   * published there exactly as the relay publishes it (its stored row, JSON), until both have it. The stream takes
   * each id once, so repeats are dropped.
   */
  async function liveDelivery(jobId: string, opportunityId: string) {
    const row = await waitForSync(stack, 'acme', async () =>
      (await stack.db.query(`SELECT ${EVENT_COLS} FROM sync.events WHERE job_id = $1 AND state = 'COMPENSATED' AND seq IS NOT NULL`, [jobId]))[0]);
    const message = JSON.stringify(event(row));
    const [finance, plain] = [financeToken, plainToken].map((token) => {
      const { client } = wsClient(stack.url, token);
      closers.push(() => client.dispose());
      return collect(client, LIVE, { id: opportunityId });
    });
    await eventually(async () => {
      await stack.bus.publish(syncChannel('acme'), message);
      return (finance?.results.length ?? 0) > 0 && (plain?.results.length ?? 0) > 0;
    });
    return { finance, plain };
  }

  /** Every path that shows the job's messages, as `token` reads them: HTTP queries, and the given subscription results. */
  async function seenBy(token: string, jobId: string, opportunityId: string) {
    const read = await stack.gql(
      `query($id: ID!) { syncJob(id: $id) { ${JOB_FIELDS} } syncJobs(first: 50, filter: { states: [COMPENSATED, DEAD_LETTERED] }) { nodes { ${JOB_FIELDS} } } syncEvents(after: "0", first: 1000) { jobId ${EVENT_FIELDS} } }`,
      { id: jobId },
      { token },
    );
    expect(read.body.errors).toBeUndefined();
    const { client } = wsClient(stack.url, token);
    closers.push(() => client.dispose());
    const resumed = collect(client, RESUMED, { id: opportunityId });
    await resumed.next(1);
    expect(resumed.error).toBeNull();
    return { http: JSON.stringify(read.body.data), resumed: JSON.stringify(resumed.results) };
  }

  it('a credit limit and an exposure: shown with finance:read, redacted without it, on every path', async () => {
    const limit = '987654321';
    const { jobId, opportunityId, live } = await failCreditCheck(0, { limit, status: 'OK' }, '5555555555555');
    const finance = await seenBy(financeToken, jobId, opportunityId);
    const plain = await seenBy(plainToken, jobId, opportunityId);
    for (const text of [finance.http, finance.resumed, JSON.stringify(live.finance?.results)]) {
      expect(text).toContain(`would exceed the credit limit ${limit}`);
    }
    for (const text of [plain.http, plain.resumed, JSON.stringify(live.plain?.results)]) {
      expect(text).toContain(`would exceed the credit limit ${REDACTED}`);
      expect(text).not.toContain(limit);
      expect(text).not.toContain('5555555');
    }
    // The live event itself and the job read through the gateway for it.
    expect(live.plain?.results[0]?.errors).toBeUndefined();
    expect(live.plain?.results[0]?.data).toMatchObject({ syncStatusChanged: { event: { message: expect.stringContaining(REDACTED) }, job: { lastErrorMessage: expect.stringContaining(REDACTED) } } });
    // The same token cannot read the limit itself: the message must not be a way to it.
    const [customer] = await stack.db.query<{ id: string }>("SELECT id FROM erp.customers WHERE tenant_id = 'acme' ORDER BY id LIMIT 1");
    const direct = await stack.gql('query($id: ID!) { account(id: $id) { creditLimit { amountMinor } } }', { id: customer?.id }, { token: plainToken });
    expect(JSON.stringify(direct.body.data)).not.toContain(limit);
  });

  it('a credit status is a value too: "BLOCKED" only for finance:read', async () => {
    const { jobId, opportunityId, live } = await failCreditCheck(1, { limit: '100', status: 'BLOCKED' }, '1000');
    const finance = await seenBy(financeToken, jobId, opportunityId);
    const plain = await seenBy(plainToken, jobId, opportunityId);
    for (const text of [finance.http, finance.resumed, JSON.stringify(live.finance?.results)]) expect(text).toContain('Credit status is BLOCKED');
    for (const text of [plain.http, plain.resumed, JSON.stringify(live.plain?.results)]) {
      expect(text).toContain(`Credit status is ${REDACTED}`);
      expect(text).not.toContain('BLOCKED');
    }
  });

  it('Account.syncStatus.lastError: an unclassified upstream message is shown only to readers of both systems of the job', async () => {
    const [account] = await stack.db.query<{ id: string }>("SELECT id FROM crm.accounts WHERE tenant_id = 'acme' ORDER BY id OFFSET 2 LIMIT 1");
    stack.sync.faults.set('ERP', { count: 1, kind: 'REJECT' });
    try {
      const updated = await stack.gql('mutation($id: ID!) { updateAccount(id: $id, input: { name: "Rejected Co" }) { id } }', { id: account?.id });
      expect(updated.body.errors).toBeUndefined();
      await waitForSync(stack, 'acme', async () =>
        (await stack.db.query("SELECT 1 FROM sync.links WHERE entity_id = $1 AND system = 'ERP' AND state = 'FAILED'", [account?.id])).length === 1);
    } finally {
      stack.sync.faults.clear();
    }
    const query = 'query($id: ID!) { account(id: $id) { syncStatus { system state lastError } } }';
    type Status = { account: { syncStatus: { system: string; state: string; lastError: string | null }[] } };
    const erp = async (token: string) => (await stack.gql<Status>(query, { id: account?.id }, { token })).body.data?.account.syncStatus.find((s) => s.system === 'ERP');
    expect(await erp(financeToken)).toMatchObject({ state: 'FAILED', lastError: expect.stringContaining('rejected the record') });
    expect(await erp(plainToken)).toMatchObject({ state: 'FAILED', lastError: REDACTED });
  });

  it('a message nobody classified (a vendor text) is guarded as a whole by the systems the job touched', () => {
    const recorded = recordedMessage('Odoo: partner Acme is on credit hold', { sourceSystem: 'CRM', targetSystem: 'ERP' });
    expect(renderFor(recorded, new Set(['sync:read', 'crm:read']))).toBe(REDACTED);
    expect(renderFor(recorded, new Set(['crm:read', 'finance:read']))).toBe('Odoo: partner Acme is on credit hold');
    // A workflow without one target: every system of record.
    const workflow = recordedMessage('no such price', { sourceSystem: 'CRM', targetSystem: null });
    expect(renderFor(workflow, new Set(['crm:read', 'finance:read']))).toBe(REDACTED);
    expect(renderFor(workflow, new Set(['crm:read', 'finance:read', 'billing:read']))).toBe('no such price');
  });
});
