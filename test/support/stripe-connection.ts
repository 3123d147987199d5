import type { StripeFake } from '../../fakes/stripe/server';
import { ALL_SCOPES, type TestStack } from './stack';

export interface ConnectionView {
  id: string;
  adapter: string;
  credentials: { fingerprint: string; last4: string } | null;
  status: { state: string; lastError: string | null };
  webhookPath: string | null;
}

export const CONNECTION_FIELDS = 'id adapter settings credentials { fingerprint last4 rotatedAt } enabled status { state lastError lastErrorAt } webhookPath';

/** Runs an operation as an admin of `tenant` (connections are tenant administration). */
export async function asAdmin<D>(stack: TestStack, query: string, variables?: Record<string, unknown>, tenant = 'acme') {
  return stack.gql<D>(query, variables, { token: await stack.token({ tenant, scopes: [...ALL_SCOPES, 'admin'] }) });
}

/**
 * Puts `tenant`'s billing on the Stripe adapter against a new account of the fake (through the admin API, as an
 * operator would) and registers the connection's webhook endpoint at the fake, at `webhookBase` + its path.
 */
export async function connectStripe(
  stack: TestStack,
  fake: StripeFake,
  opts: { tenant?: string; webhookSecret: string; webhookBase: string; settings?: Record<string, unknown> },
): Promise<{ connection: ConnectionView; account: { accountId: string; secretKey: string } }> {
  const account = fake.addAccount();
  const created = await asAdmin<{ createConnection: ConnectionView }>(
    stack,
    `mutation($input: CreateConnectionInput!) { createConnection(input: $input) { ${CONNECTION_FIELDS} } }`,
    {
      input: {
        system: 'BILLING', adapter: 'stripe',
        settings: JSON.stringify({ apiBase: fake.url, maxRequestsPerSecond: 20, timeoutMs: 3000, breakAfter: 3, halfOpenAfterMs: 300, ...opts.settings }),
        credentials: { apiKey: account.secretKey, webhookSecret: opts.webhookSecret },
      },
    },
    opts.tenant,
  );
  const connection = created.body.data?.createConnection;
  if (created.body.errors || !connection) throw new Error(`createConnection failed: ${JSON.stringify(created.body.errors)}`);
  fake.addWebhookEndpoint(account.accountId, `${opts.webhookBase}${connection.webhookPath ?? ''}`, opts.webhookSecret);
  return { connection, account };
}
