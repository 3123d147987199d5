import { type StripeFake, startStripeFake } from '../fakes/stripe/server';
import type { Config } from '../lib/config';
import { keyRingFromEnv } from '../lib/connectors/secret-box';
import { connectionStore } from '../subgraphs/sync/connections/store';
import type { Stack } from './stack';

const DEMO_WEBHOOK_SECRET = 'whsec_demo_only_not_a_real_secret';

/**
 * `DEMO_STRIPE=on npm start`: starts the in-repo Stripe fake and puts tenant acme's billing on the Stripe adapter
 * (globex stays on the reference store), so quote-to-cash for acme creates customers, subscriptions and invoices in
 * "Stripe" and the fake's signed webhooks come back to `/webhooks/stripe/{connectionId}`. Does nothing when acme
 * already has a billing connection (a persistent PGlite directory keeps it between starts).
 */
export async function startStripeDemo(stack: Stack, config: Config): Promise<{ fake: StripeFake; lines: string[] }> {
  const fake = await startStripeFake({ host: config.host });
  const account = fake.addAccount();
  const store = connectionStore(stack.db, keyRingFromEnv(config.connectorKeys, config.production)).forTenant('acme');
  const created = await store.create({
    system: 'BILLING', adapter: 'stripe', settings: { apiBase: fake.url, maxRequestsPerSecond: 25 },
    credentials: { apiKey: account.secretKey, webhookSecret: DEMO_WEBHOOK_SECRET },
  });
  const connection = created ?? (await store.enabledFor('BILLING'));
  const lines = [`Stripe:    fake at ${fake.url} (account ${account.accountId}); acme's billing on the Stripe adapter`];
  if (connection) {
    const webhook = stack.subgraphs.sync.url.replace(/\/graphql$/, `/webhooks/stripe/${connection.id}`);
    fake.addWebhookEndpoint(account.accountId, webhook, DEMO_WEBHOOK_SECRET);
    lines.push(`           webhooks to ${webhook}`);
  }
  return { fake, lines };
}
