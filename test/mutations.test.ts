import { codes } from './support/http';
import { type TestStack, startTestStack } from './support/stack';

interface Account { id: string; name: string; domain: string | null }

describe('mutations across the systems of record', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ accounts: 3 });
  });
  afterAll(() => stack.stop());

  const createAccount = (input: Record<string, unknown>) =>
    stack.gql<{ createAccount: Account }>('mutation($input: CreateAccountInput!) { createAccount(input: $input) { id name domain lifecycleStage } }', { input });

  it('creates and updates an account, and the write is visible to the next read', async () => {
    const created = await createAccount({ name: 'Northwind Traders', domain: 'northwind.example.com' });
    expect(created.body.errors).toBeUndefined();
    const id = created.body.data?.createAccount.id;
    expect(id).toMatch(/^acc_/);
    const updated = await stack.gql('mutation($id: ID!) { updateAccount(id: $id, input: { name: "Northwind Ltd" }) { name domain } }', { id });
    expect(updated.body.data).toEqual({ updateAccount: { name: 'Northwind Ltd', domain: 'northwind.example.com' } });
    const read = await stack.gql('query($id: ID!) { account(id: $id) { name } }', { id });
    expect(read.body.data).toEqual({ account: { name: 'Northwind Ltd' } });
  });

  it('rejects bad input with BAD_USER_INPUT naming the field, and writes nothing', async () => {
    const before = await stack.db.query('SELECT count(*)::int AS n FROM crm.accounts');
    const blank = await createAccount({ name: '   ' });
    expect(codes(blank)).toEqual(['BAD_USER_INPUT']);
    expect(blank.body.errors?.[0]?.message).toContain('input.name');
    const badDomain = await createAccount({ name: 'X', domain: 'not a domain' });
    expect(codes(badDomain)).toEqual(['BAD_USER_INPUT']);
    expect(badDomain.body.errors?.[0]?.message).toContain('input.domain');
    const badPage = await stack.gql('{ accounts(first: 1000) { nodes { id } } }');
    expect(codes(badPage)).toEqual(['BAD_USER_INPUT']);
    expect(badPage.body.errors?.[0]?.message).toContain('first');
    const after = await stack.db.query('SELECT count(*)::int AS n FROM crm.accounts');
    expect(after).toEqual(before);
  });

  it('answers NOT_FOUND for a missing record', async () => {
    const res = await stack.gql('mutation { updateAccount(id: "acc_missing", input: { name: "X" }) { id } }');
    expect(codes(res)).toEqual(['NOT_FOUND']);
    const contact = await stack.gql('mutation { createContact(input: { accountId: "acc_missing", firstName: "A", lastName: "B", email: "a@b.co" }) { id } }');
    expect(codes(contact)).toEqual(['NOT_FOUND']);
  });

  it('runs the invoice lifecycle and refuses to post a void invoice with a typed domain error', async () => {
    // A seeded account: one created by an earlier test may not be an ERP customer yet (sync is asynchronous).
    const [account] = await stack.db.query<{ id: string; currency: string }>("SELECT id, currency FROM erp.customers WHERE tenant_id = 'acme' ORDER BY id LIMIT 1");
    const currency = account?.currency;
    const created = await stack.gql<{ createInvoice: { id: string; status: string; total: { amountMinor: string } } }>(
      `mutation($input: CreateInvoiceInput!) { createInvoice(input: $input) { id status total { amountMinor currency } } }`,
      { input: { accountId: account?.id, currency, taxRateBps: 2000, lines: [{ description: 'Seats', quantity: 3, unitPrice: { amountMinor: '1000', currency } }] } },
    );
    expect(created.body.errors).toBeUndefined();
    expect(created.body.data?.createInvoice.status).toBe('DRAFT');
    expect(created.body.data?.createInvoice.total.amountMinor).toBe('3600');
    const id = created.body.data?.createInvoice.id;
    const voided = await stack.gql('mutation($id: ID!) { voidInvoice(id: $id, reason: "duplicate") { status } }', { id });
    expect(voided.body.data).toEqual({ voidInvoice: { status: 'VOID' } });
    const posted = await stack.gql('mutation($id: ID!) { postInvoice(id: $id) { status } }', { id });
    expect(codes(posted)).toEqual(['ILLEGAL_STATE_TRANSITION']);
    expect(posted.body.errors?.[0]?.extensions?.['domainCode']).toMatch(/^ERP\./);
  });

  it('creates, changes and cancels a billing subscription; cancelling twice is illegal', async () => {
    const [account] = await stack.db.query<{ id: string; currency: string }>("SELECT id, currency FROM billing.customers WHERE tenant_id = 'acme' ORDER BY id LIMIT 1");
    const currency = account?.currency;
    const created = await stack.gql<{ createBillingSubscription: { id: string; status: string; mrr: { amountMinor: string } } }>(
      'mutation($a: ID!, $c: String!) { createBillingSubscription(input: { accountId: $a, currency: $c, items: [{ planCode: "growth", quantity: 2 }] }) { id status mrr { amountMinor } } }',
      { a: account?.id, c: currency },
    );
    expect(created.body.errors).toBeUndefined();
    expect(created.body.data?.createBillingSubscription.status).toBe('ACTIVE');
    const id = created.body.data?.createBillingSubscription.id;
    const cancel = 'mutation($id: ID!) { cancelBillingSubscription(id: $id) { status } }';
    expect((await stack.gql(cancel, { id })).body.data).toEqual({ cancelBillingSubscription: { status: 'CANCELED' } });
    expect(codes(await stack.gql(cancel, { id }))).toEqual(['ILLEGAL_STATE_TRANSITION']);
    const unknownPlan = await stack.gql('mutation($a: ID!, $c: String!) { createBillingSubscription(input: { accountId: $a, currency: $c, items: [{ planCode: "nope" }] }) { id } }', { a: account?.id, c: currency });
    expect(codes(unknownPlan)).toEqual(['BAD_USER_INPUT']);
    // An account id of another tenant is unknown here (sent with that customer's own currency, so only the tenant
    // can refuse it): nothing is attached to it in any tenant.
    const [foreign] = await stack.db.query<{ id: string; currency: string }>("SELECT id, currency FROM billing.customers WHERE tenant_id = 'globex' LIMIT 1");
    const subscriptionsOf = async () => (await stack.db.query<{ n: number }>('SELECT count(*)::int AS n FROM billing.subscriptions WHERE account_id = $1', [foreign?.id]))[0]?.n;
    const before = await subscriptionsOf();
    const crossTenant = await stack.gql('mutation($a: ID!, $c: String!) { createBillingSubscription(input: { accountId: $a, currency: $c, items: [{ planCode: "growth" }] }) { id } }', { a: foreign?.id, c: foreign?.currency });
    expect(codes(crossTenant)).toEqual(['NOT_FOUND']);
    expect(await subscriptionsOf()).toBe(before);
  });
});
