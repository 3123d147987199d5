import type { TestStack } from './stack';
import { waitForSync } from './wait';

/** Account changes of tenant acme through the gateway, and waiting for their sync jobs (subscription tests). */
export function accountChanges(stack: TestStack) {
  return {
    async createAccount(name: string): Promise<string> {
      const res = await stack.gql<{ createAccount: { id: string } }>('mutation($n: String!) { createAccount(input: { name: $n }) { id } }', { n: name });
      return res.body.data?.createAccount.id ?? '';
    },
    rename: (id: string, name: string) => stack.gql('mutation($id: ID!, $n: String!) { updateAccount(id: $id, input: { name: $n }) { id } }', { id, n: name }),
    /** Resolves once `n` SUCCEEDED events of the entity are numbered by the relay. */
    succeeded: (id: string, n: number) =>
      waitForSync(stack, 'acme', async () => (await stack.db.query("SELECT 1 FROM sync.events WHERE entity_id = $1 AND state = 'SUCCEEDED' AND seq IS NOT NULL", [id])).length === n),
  };
}

/** Fan-out groups of every gateway in this process, as a gateway's /metrics reports them (`sor_subscription_groups`). */
export async function subscriptionGroups(gatewayUrl: string): Promise<number> {
  const text = await (await fetch(gatewayUrl.replace(/\/graphql$/, '/metrics'))).text();
  return Number(/^sor_subscription_groups (\d+)/m.exec(text)?.[1] ?? Number.NaN);
}
