/**
 * The Stripe fake on its own, for the demo and for poking at it with curl or the Stripe CLI's HTTP calls:
 *
 *   npx tsx fakes/stripe/main.ts [--port 12111] [--key sk_test_demo] [--webhook http://127.0.0.1:4004/webhooks/stripe/<connectionId>]
 *
 * Prints one JSON line with the API base URL, the account's secret key and, with --webhook, the endpoint's signing
 * secret; then serves until SIGINT/SIGTERM.
 */
import { parseArgs } from 'node:util';
import { startStripeFake } from './server';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { port: { type: 'string', default: '12111' }, key: { type: 'string' }, webhook: { type: 'string' } } });
  const fake = await startStripeFake({ port: Number(values.port) });
  const { accountId, secretKey } = fake.addAccount(values.key);
  const webhookSecret = values.webhook ? fake.addWebhookEndpoint(accountId, values.webhook) : null;
  console.log(JSON.stringify({ apiBase: fake.url, accountId, secretKey, webhookSecret }));
  const stop = () => void fake.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
