import { enqueueSyncJob } from '../lib/outbox';
import { syncChannel } from '../lib/events';
import { responseCacheWaiting } from '../lib/telemetry/gateway-metrics';
import { seedTenant } from '../subgraphs/registry';
import { eventually } from './support/eventually';
import { type GraphQLResponse, postGraphQL } from './support/http';
import { type Instance, type TestStack, startInstance, startTestStack } from './support/stack';
import { type Tap, startTap } from './support/tap';

/**
 * Issue 17 item 4: a write evicts only the cached answers holding what it wrote, whichever gateway instance or sync
 * worker wrote it, in its own tenant only; concurrent misses are coalesced; stale answers are served on a subgraph
 * outage only for types that opted in. Two gateway instances on one real Redis.
 */
describe('entity-level response cache invalidation', () => {
  let stack: TestStack;
  let second: Instance;
  let crmTap: Tap;
  let billingTap: Tap;
  let clockSkewMs = 0;
  const cache = (r: GraphQLResponse) => r.headers.get('x-cache');

  beforeAll(async () => {
    stack = await startTestStack({ accounts: 2 });
    crmTap = await startTap(stack.subgraphs.crm.url);
    billingTap = await startTap(stack.subgraphs.billing.url);
    second = await startInstance(stack, {
      config: { responseCacheStaleIfError: { Account: 300, BillingSubscription: 300 }, subgraphDedup: false },
      subgraphUrls: { crm: crmTap.url, billing: billingTap.url },
      responseCache: { now: () => Date.now() + clockSkewMs },
    });
  });
  afterAll(async () => {
    await second.close();
    await crmTap.close();
    await billingTap.close();
    await stack.stop();
  });

  /** A tenant of its own per test: no write of another test (or leftover sync job) evicts its entries meanwhile. */
  async function tenantWithAccounts(tenant: string, n: number) {
    const seeded = await stack.db.transaction((tx) => seedTenant(tx, tenant, n));
    const token = await stack.token({ tenant, sub: `${tenant}-user` });
    return { ids: seeded.map((a) => a.id), token };
  }
  const one = (id: string) => `{ account(id: "${id}") { id name } }`;
  const LIST = '{ accounts(first: 10) { nodes { id name } } }';

  async function warm(urls: readonly string[], queries: readonly string[], token: string) {
    for (const q of queries) {
      expect(cache(await postGraphQL(urls[0] ?? '', q, { token }))).toBe('MISS');
      for (const url of urls) expect(cache(await postGraphQL(url, q, { token }))).toBe('HIT');
    }
  }

  it('a mutation on one instance evicts, on both, the answers holding that entity, and only those, in its tenant only', async () => {
    const { ids: [x = '', y = ''], token } = await tenantWithAccounts('ent-mut', 2);
    const other = await tenantWithAccounts('ent-mut-other', 2);
    await warm([stack.url, second.url], [one(x), one(y), LIST], token);
    await warm([stack.url], [LIST], other.token);

    const renamed = await postGraphQL(second.url, 'mutation($id: ID!) { updateAccount(id: $id, input: { name: "Renamed X" }) { id name } }', { token, variables: { id: x } });
    expect(renamed.body.errors).toBeUndefined();

    const afterX = await postGraphQL(stack.url, one(x), { token });
    expect(cache(afterX)).toBe('MISS');
    expect(afterX.body.data).toEqual({ account: { id: x, name: 'Renamed X' } });
    const list = await postGraphQL(stack.url, LIST, { token });
    expect(cache(list)).toBe('MISS');
    expect(JSON.stringify(list.body.data)).toContain('Renamed X');
    for (const url of [stack.url, second.url]) expect(cache(await postGraphQL(url, one(y), { token }))).toBe('HIT');
    expect(cache(await postGraphQL(stack.url, LIST, { token: other.token }))).toBe('HIT');
  });

  it('a create evicts the lists of its type, not the single entities; a mutation that hides the id evicts its type', async () => {
    const { ids: [x = '', y = ''], token } = await tenantWithAccounts('ent-create', 2);
    await warm([stack.url], [one(x), one(y), LIST], token);
    const created = await postGraphQL(stack.url, 'mutation { createAccount(input: { name: "New Co" }) { id } }', { token });
    expect(created.body.errors).toBeUndefined();
    const list = await postGraphQL(second.url, LIST, { token });
    expect(cache(list)).toBe('MISS');
    expect(JSON.stringify(list.body.data)).toContain('New Co');
    expect(cache(await postGraphQL(second.url, one(x), { token }))).toBe('HIT');

    // Without `id` in its answer, the write cannot be narrowed: every answer holding an Account goes.
    const hidden = await postGraphQL(stack.url, 'mutation($id: ID!) { updateAccount(id: $id, input: { name: "Hidden" }) { name } }', { token, variables: { id: x } });
    expect(hidden.body.errors).toBeUndefined();
    expect(cache(await postGraphQL(second.url, one(y), { token }))).toBe('MISS');
  });

  it('a create evicts the lookups that found nothing and the empty lists of its type, not the found entities', async () => {
    const { ids: [y = ''], token } = await tenantWithAccounts('ent-absent', 1);
    const fresh = await postGraphQL<{ createAccount: { id: string } }>(stack.url, 'mutation { createAccount(input: { name: "No Invoices Yet" }) { id } }', { token });
    const x = fresh.body.data?.createAccount.id ?? '';
    // The ERP knows the account once sync has made it a customer: invoices can be raised for it from then on.
    await eventually(async () => (await stack.db.query('SELECT 1 FROM erp.customers WHERE id = $1', [x])).length === 1);
    const missing = '{ invoice(id: "inv_absent") { id } }';
    const none = `{ invoices(first: 5, filter: { accountId: "${x}" }) { nodes { id } } }`;
    await warm([stack.url, second.url], [missing, none, one(y)], token);
    expect((await postGraphQL(stack.url, missing, { token })).body.data).toEqual({ invoice: null });
    expect((await postGraphQL(stack.url, none, { token })).body.data).toEqual({ invoices: { nodes: [] } });
    const invoice = await postGraphQL<{ createInvoice: { id: string } }>(
      stack.url,
      'mutation($a: ID!) { createInvoice(input: { accountId: $a, currency: "USD", lines: [{ description: "x", quantity: 1, unitPrice: { amountMinor: "100", currency: "USD" } }] }) { id } }',
      { token, variables: { a: x } },
    );
    expect(invoice.body.errors).toBeUndefined();
    const created = invoice.body.data?.createInvoice.id;
    // Written through the first instance, read through the second (the cache is shared: one look is the test).
    expect(cache(await postGraphQL(second.url, missing, { token }))).toBe('MISS');
    const list = await postGraphQL<{ invoices: { nodes: { id: string }[] } }>(second.url, none, { token });
    expect(cache(list)).toBe('MISS');
    expect(list.body.data?.invoices.nodes.map((n) => n.id)).toEqual([created]);
    // (Not the new account: the sync of its creation evicts it whenever its jobs finish.)
    expect(cache(await postGraphQL(second.url, one(y), { token }))).toBe('HIT');
  });

  it('a write of an invoice evicts the answers showing a balance, not those showing names only', async () => {
    const { ids: [x = '', y = ''], token } = await tenantWithAccounts('ent-derived', 2);
    const balance = `{ account(id: "${y}") { id balance { amountMinor } } }`;
    await warm([stack.url], [one(y), balance], token);
    const invoice = await postGraphQL(
      stack.url,
      'mutation($a: ID!) { createInvoice(input: { accountId: $a, currency: "USD", lines: [{ description: "x", quantity: 1, unitPrice: { amountMinor: "100", currency: "USD" } }] }) { id } }',
      { token, variables: { a: x } },
    );
    expect(invoice.body.errors).toBeUndefined();
    expect(cache(await postGraphQL(stack.url, balance, { token }))).toBe('MISS');
    expect(cache(await postGraphQL(stack.url, one(y), { token }))).toBe('HIT');
  });

  it('a sync write evicts the answers holding the account it wrote, on every instance, and no other', async () => {
    const { ids: [x = '', y = ''], token } = await tenantWithAccounts('ent-sync', 2);
    await warm([stack.url, second.url], [one(x), one(y)], token);
    let settle: (state: string) => void = () => undefined;
    const ended = new Promise<string>((resolve) => (settle = resolve));
    const off = await stack.bus.subscribe(syncChannel('ent-sync'), (message) => {
      const e = JSON.parse(message) as { correlationId: string; state: string };
      if (e.correlationId === 'ent-sync-0001' && ['SUCCEEDED', 'DEAD_LETTERED', 'COMPENSATED'].includes(e.state)) settle(e.state);
    });
    // Straight into the ledger: no gateway mutation, so only the sync relay can evict.
    await stack.db.transaction((tx) =>
      enqueueSyncJob(tx, {
        tenant: 'ent-sync', kind: 'ACCOUNT_UPSERT', entityType: 'Account', entityId: x, sourceSystem: 'CRM', targetSystem: 'ERP',
        correlationId: 'ent-sync-0001', idempotencyKey: `ent-sync:${x}`,
      }),
    );
    stack.sync.worker.wake();
    expect(await ended).toBe('SUCCEEDED');
    await off();
    expect(cache(await postGraphQL(second.url, one(x), { token }))).toBe('MISS');
    for (const url of [stack.url, second.url]) expect(cache(await postGraphQL(url, one(y), { token }))).toBe('HIT');
  });

  it('coalesces concurrent misses for the same key into one execution', async () => {
    const { token } = await tenantWithAccounts('ent-coalesce', 2);
    const query = '{ accounts(first: 2) { nodes { id name } } }';
    const before = crmTap.seen;
    crmTap.hold();
    const first = postGraphQL(second.url, query, { token });
    await eventually(async () => crmTap.holding === 1);
    const waiting = async () => (await responseCacheWaiting.get()).values[0]?.value ?? 0;
    const base = await waiting();
    const rest = Array.from({ length: 9 }, () => postGraphQL(second.url, query, { token }));
    await eventually(async () => (await waiting()) - base === 9);
    crmTap.release();
    const all = await Promise.all([first, ...rest]);
    expect(crmTap.seen - before).toBe(1);
    expect(all.map(cache).sort()).toEqual([...Array(9).fill('COALESCED'), 'MISS']);
    for (const r of all) expect(r.body.data).toEqual(all[0]?.body.data);
  });

  it('serves a stale answer while a subgraph is down, only when every type in it opted in', async () => {
    const { token } = await tenantWithAccounts('ent-stale', 2);
    const optedIn = '{ accounts(first: 2) { nodes { id name subscriptions { id status } } } }';
    const notOptedIn = '{ accounts(first: 2) { nodes { id subscriptions { id items { plan { code } } } } } }';
    const fresh = await postGraphQL(second.url, optedIn, { token });
    expect(cache(fresh)).toBe('MISS');
    expect(cache(await postGraphQL(second.url, notOptedIn, { token }))).toBe('MISS');
    // Past the entries' max-age (30 s), within the opted-in 300 s.
    clockSkewMs = 60_000;
    billingTap.down(true);
    try {
      const stale = await postGraphQL(second.url, optedIn, { token });
      expect(stale.status).toBe(200);
      expect(cache(stale)).toBe('STALE');
      expect(stale.body.errors).toBeUndefined();
      expect(stale.body.data).toEqual(fresh.body.data);
      const partial = await postGraphQL(second.url, notOptedIn, { token });
      expect(cache(partial)).toBe('MISS');
      expect((partial.body.errors ?? []).map((e) => e.extensions?.['code'])).toContain('SUBGRAPH_UNAVAILABLE');
      // Back up: the stale entry is not a hit; the answer is fresh again.
      billingTap.down(false);
      const back = await postGraphQL(second.url, optedIn, { token });
      expect(cache(back)).toBe('MISS');
      expect(back.body.errors).toBeUndefined();
    } finally {
      billingTap.down(false);
      clockSkewMs = 0;
    }
  });
});
