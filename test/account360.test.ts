import { SUBGRAPH_NAMES } from '../lib/schema';
import { ACCOUNT_360 } from './support/queries';
import { type TestStack, startTestStack } from './support/stack';

interface Account360 {
  accounts: {
    pageInfo: { hasNextPage: boolean; endCursor: string | null };
    nodes: {
      id: string;
      name: string;
      contacts: { nodes: { id: string }[] };
      opportunities: { nodes: { id: string; stage: string }[] };
      balance: { amountMinor: string; currency: string } | null;
      invoices: { nodes: { id: string }[] };
      payments: { nodes: { id: string }[] };
      subscriptions: { id: string; status: string }[];
      syncStatus: { system: string; state: string }[];
    }[];
  };
}

describe('account 360 across CRM, ERP, billing and sync', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ accounts: 120 });
  });
  afterAll(() => stack.stop());

  it('merges data from all three subgraphs for the token tenant only', async () => {
    const res = await stack.gql<Account360>(ACCOUNT_360, { first: 50 });
    expect(res.status).toBe(200);
    expect(res.body.errors).toBeUndefined();
    const nodes = res.body.data?.accounts.nodes ?? [];
    expect(nodes).toHaveLength(50);
    expect(res.body.data?.accounts.pageInfo.hasNextPage).toBe(true);
    // Every system contributed: CRM contacts, ERP balances and invoices, billing subscriptions.
    expect(nodes.every((n) => n.contacts.nodes.length > 0)).toBe(true);
    expect(nodes.filter((n) => n.balance !== null).length).toBeGreaterThan(0);
    expect(nodes.flatMap((n) => n.invoices.nodes).length).toBeGreaterThan(0);
    expect(nodes.flatMap((n) => n.subscriptions).length).toBeGreaterThan(0);
    expect(nodes.every((n) => n.syncStatus.map((s) => s.system).sort().join() === 'BILLING,ERP' && n.syncStatus.every((s) => s.state === 'IN_SYNC'))).toBe(true);
    expect(nodes.every((n) => n.opportunities.nodes.every((o) => o.stage !== 'CLOSED_WON' && o.stage !== 'CLOSED_LOST'))).toBe(true);

    // Every record in the answer belongs to tenant acme, checked against the databases behind the subgraphs.
    const tenantsOf = async (table: string, ids: string[]) =>
      (await stack.db.query<{ tenant_id: string }>(`SELECT DISTINCT tenant_id FROM ${table} WHERE id = ANY($1::text[])`, [ids])).map((r) => r.tenant_id);
    expect(await tenantsOf('crm.accounts', nodes.map((n) => n.id))).toEqual(['acme']);
    expect(await tenantsOf('crm.contacts', nodes.flatMap((n) => n.contacts.nodes.map((c) => c.id)))).toEqual(['acme']);
    expect(await tenantsOf('erp.invoices', nodes.flatMap((n) => n.invoices.nodes.map((i) => i.id)))).toEqual(['acme']);
    expect(await tenantsOf('erp.payments', nodes.flatMap((n) => n.payments.nodes.map((i) => i.id)))).toEqual(['acme']);
    expect(await tenantsOf('billing.subscriptions', nodes.flatMap((n) => n.subscriptions.map((s) => s.id)))).toEqual(['acme']);
  });

  it("returns nothing of another tenant's records, even by id", async () => {
    const acme = await stack.gql<Account360>(ACCOUNT_360, { first: 3 });
    const acmeAccount = acme.body.data?.accounts.nodes[0];
    expect(acmeAccount).toBeDefined();
    const res = await stack.gql<{ account: unknown; invoice: unknown }>(
      'query($id: ID!, $inv: ID!) { account(id: $id) { id name } invoice(id: $inv) { id number } }',
      { id: acmeAccount?.id, inv: acmeAccount?.invoices.nodes[0]?.id ?? 'none' },
      { tenant: 'globex' },
    );
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data).toEqual({ account: null, invoice: null });
    const globex = await stack.gql<Account360>(ACCOUNT_360, { first: 100 }, { tenant: 'globex' });
    const acmeIds = new Set(acme.body.data?.accounts.nodes.map((n) => n.id));
    expect(globex.body.data?.accounts.nodes.some((n) => acmeIds.has(n.id))).toBe(false);
  });

  it('issues a number of SQL statements per subgraph that does not grow with the number of accounts', async () => {
    const countFor = async (first: number) => {
      for (const name of SUBGRAPH_NAMES) stack.subgraphs[name].statements.count = 0;
      const res = await stack.gql<Account360>(ACCOUNT_360, { first });
      expect(res.body.errors).toBeUndefined();
      expect(res.body.data?.accounts.nodes).toHaveLength(first);
      return Object.fromEntries(SUBGRAPH_NAMES.map((n) => [n, stack.subgraphs[n].statements.count]));
    };
    const ten = await countFor(10);
    const hundred = await countFor(100);
    expect(hundred).toEqual(ten);
    for (const name of SUBGRAPH_NAMES) expect(ten[name]).toBeGreaterThan(0);
  });
});
