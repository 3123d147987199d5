import { directOutbound } from '../lib/connectors/outbound';
import { stripeBillingRemote } from '../subgraphs/billing/connector/stripe';
import { startStripeFake } from '../fakes/stripe/server';
import { billingRemoteContract } from './contracts/billing-remote.contract';

billingRemoteContract('stripe adapter against the Stripe fake', async () => {
  const fake = await startStripeFake();
  const { secretKey } = fake.addAccount();
  return { remote: stripeBillingRemote({ secretKey, apiBase: fake.url, outbound: directOutbound }), close: () => fake.close() };
});
