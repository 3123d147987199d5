import { recordedMessage } from '../subgraphs/sync/engine/recorded-message';
import { type TestStack, startTestStack } from './support/stack';
import { waitForSync } from './support/wait';

/** Issue 11, item 12: what a sync job records carries no value its readers may not see (a credit limit). */
describe('messages recorded by sync jobs', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ accounts: 2 });
  }, 120_000);
  afterAll(() => stack?.stop());

  it('a credit check failure does not show the credit limit or the exposure to a token without finance:read', async () => {
    const [customer] = await stack.db.query<{ id: string; currency: string }>("SELECT id, currency FROM erp.customers WHERE tenant_id = 'acme' ORDER BY id LIMIT 1");
    const limit = '987654321';
    const set = await stack.gql('mutation($a: ID!, $c: String!, $l: String!) { setCreditLimit(input: { accountId: $a, creditLimit: { amountMinor: $l, currency: $c }, creditStatus: OK }) { creditStatus } }', {
      a: customer?.id, c: customer?.currency, l: limit,
    });
    expect(set.body.errors).toBeUndefined();
    const amount = '5555555555555';
    const opp = await stack.gql<{ createOpportunity: { id: string } }>(
      'mutation($a: ID!, $c: String!, $m: String!) { createOpportunity(input: { accountId: $a, name: "Huge", planCode: "growth", amount: { amountMinor: $m, currency: $c } }) { id } }',
      { a: customer?.id, c: customer?.currency, m: amount },
    );
    expect(opp.body.errors).toBeUndefined();
    const closed = await stack.gql<{ closeOpportunityWon: { id: string } }>('mutation($id: ID!) { closeOpportunityWon(opportunityId: $id) { id } }', { id: opp.body.data?.createOpportunity.id });
    const jobId = closed.body.data?.closeOpportunityWon.id;
    const job = await waitForSync(stack, 'acme', async () => {
      const [j] = await stack.db.query<{ state: string; last_error_code: string }>('SELECT state, last_error_code FROM sync.jobs WHERE id = $1', [jobId]);
      return j && ['COMPENSATED', 'DEAD_LETTERED'].includes(j.state) ? j : null;
    });
    expect(job.last_error_code).toBe('CREDIT_CHECK_FAILED');

    const token = await stack.token({ scopes: ['crm:read', 'sync:read'] });
    const read = await stack.gql<{ syncJob: { lastErrorCode: string; lastErrorMessage: string; history: { message: string | null }[] } }>(
      'query($id: ID!) { syncJob(id: $id) { lastErrorCode lastErrorMessage history { message } } }',
      { id: jobId },
      { token },
    );
    expect(read.body.errors).toBeUndefined();
    const seen = JSON.stringify(read.body.data);
    expect(read.body.data?.syncJob.lastErrorCode).toBe('CREDIT_CHECK_FAILED');
    expect(read.body.data?.syncJob.lastErrorMessage).toBeTruthy();
    expect(seen).not.toContain(limit);
    expect(seen).not.toContain(amount);
    // The same token cannot read the limit itself: the message was the only way to it.
    const direct = await stack.gql('query($id: ID!) { account(id: $id) { creditLimit { amountMinor } } }', { id: customer?.id }, { token });
    expect(JSON.stringify(direct.body.data)).not.toContain(limit);
  });

  it('masks standalone numbers only, not digits inside ids', () => {
    expect(recordedMessage('Exposure 1500.50 would exceed the credit limit 1,000 for acc_05f3 on INV-0042')).toBe(
      'Exposure [value] would exceed the credit limit [value] for acc_05f3 on INV-0042',
    );
  });
});
