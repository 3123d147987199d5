import type { TestStack } from './stack';

export interface JobRow { id: string; state: string; attempts: number; last_error_code: string | null; result: string | null }

/** An open 4900 opportunity on plan `growth` for an ERP customer of `tenant` without one yet, its credit limit raised so the deal goes through. */
export async function openOpportunity(stack: TestStack, tenant: string): Promise<{ id: string; accountId: string }> {
  const [customer] = await stack.db.query<{ id: string; currency: string }>(
    `SELECT c.id, c.currency FROM erp.customers c WHERE c.tenant_id = $1 AND NOT EXISTS (SELECT 1 FROM crm.opportunities o WHERE o.tenant_id = c.tenant_id AND o.account_id = c.id AND o.name = 'Connector deal')
     ORDER BY c.id LIMIT 1`,
    [tenant],
  );
  if (!customer) throw new Error('no customer left');
  const token = await stack.token({ tenant });
  const credit = await stack.gql('mutation($a: ID!, $c: String!) { setCreditLimit(input: { accountId: $a, creditLimit: { amountMinor: "100000000000", currency: $c }, creditStatus: OK }) { creditStatus } }', { a: customer.id, c: customer.currency }, { token });
  if (credit.body.errors) throw new Error(`setCreditLimit failed: ${JSON.stringify(credit.body.errors)}`);
  const res = await stack.gql<{ createOpportunity: { id: string } }>(
    'mutation($a: ID!, $c: String!) { createOpportunity(input: { accountId: $a, name: "Connector deal", planCode: "growth", amount: { amountMinor: "4900", currency: $c } }) { id } }',
    { a: customer.id, c: customer.currency }, { token },
  );
  if (res.body.errors) throw new Error(`createOpportunity failed: ${JSON.stringify(res.body.errors)}`);
  return { id: res.body.data?.createOpportunity.id ?? '', accountId: customer.id };
}

/** Closes the deal won through the sync API; returns its quote-to-cash job id. */
export async function closeWon(stack: TestStack, tenant: string, opportunityId: string): Promise<string> {
  const res = await stack.gql<{ closeOpportunityWon: { id: string } }>('mutation($id: ID!) { closeOpportunityWon(opportunityId: $id) { id } }', { id: opportunityId }, { token: await stack.token({ tenant }) });
  if (res.body.errors) throw new Error(`closeOpportunityWon failed: ${JSON.stringify(res.body.errors)}`);
  return res.body.data?.closeOpportunityWon.id ?? '';
}

/** A probe for waitForSync: the job once it has settled in one of `states`. */
export const jobSettled = (stack: TestStack, jobId: string, states = ['SUCCEEDED', 'COMPENSATED', 'DEAD_LETTERED']) => async (): Promise<JobRow | null> => {
  const [j] = await stack.db.query<JobRow>('SELECT id, state, attempts, last_error_code, result FROM sync.jobs WHERE id = $1', [jobId]);
  return j && states.includes(j.state) ? j : null;
};
