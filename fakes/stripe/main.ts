/**
 * The Stripe fake on its own, for the demo and for poking at it with curl or the Stripe CLI's HTTP calls:
 *
 *   npx tsx fakes/stripe/main.ts [--port 12111] [--key sk_test_demo] [--webhook http://127.0.0.1:4004/webhooks/stripe/<connectionId>]
 *
 * Prints one JSON line with the API base URL, the account's secret key and, with --webhook, the endpoint's signing
 * secret; then serves until SIGINT/SIGTERM.
 */
import { parseCli } from '../../lib/cli';
import { startStripeFake } from './server';

async function main(): Promise<void> {
  const { values } = parseCli({
    usage: 'npx tsx fakes/stripe/main.ts [options]',
    summary: 'Serves the Stripe fake (fakes/stripe) until SIGINT/SIGTERM; prints one JSON line with the API base URL, the\naccount\'s secret key and, with --webhook, the endpoint\'s signing secret.',
    options: {
      port: { type: 'string', default: '12111', description: 'port to listen on (127.0.0.1)', placeholder: 'port' },
      key: { type: 'string', description: 'the account\'s secret key (default: a generated sk_test_...)', placeholder: 'sk_test_...' },
      webhook: { type: 'string', description: 'a webhook endpoint to sign and send events to, e.g. http://127.0.0.1:4004/webhooks/stripe/<connectionId>', placeholder: 'url' },
    },
  });
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
