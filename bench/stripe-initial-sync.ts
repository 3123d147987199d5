/**
 * Initial sync of a tenant's billing to Stripe: N customers, each with a subscription, pushed through the Stripe
 * adapter to the Stripe fake over real HTTP under an outbound rate limit. Prints the throughput and the most requests
 * the fake saw in any one-second window: the proof that the limit held (measured where Stripe would measure it).
 *
 *   npx tsx bench/stripe-initial-sync.ts [--customers 10000] [--rps 100] [--concurrency 16]
 *
 * The outbound is the connection layer's own (`policyOutbound`: timeout, breaker, call starts spaced 1/rps apart);
 * the fake runs in this process (its work per request is small next to the spacing).
 */
import { performance } from 'node:perf_hooks';
import { parseCli } from '../lib/cli';
import { policyOutbound } from '../lib/connectors/outbound-policy';
import { startStripeFake } from '../fakes/stripe/server';
import { stripeBillingRemote } from '../subgraphs/billing/connector/stripe';
import { intOption, machineDescription, percentile, table } from './support';

async function main(): Promise<void> {
  const { values } = parseCli({
    usage: 'npx tsx bench/stripe-initial-sync.ts [options]',
    summary: 'Initial sync of N customers with a subscription each to the Stripe fake under an outbound rate limit: throughput and the busiest second.',
    options: {
      customers: { type: 'string', default: '10000', description: 'customers (each with a subscription) to push', placeholder: 'n' },
      rps: { type: 'string', default: '100', description: 'outbound requests per second allowed', placeholder: 'n' },
      concurrency: { type: 'string', default: '16', description: 'pushes in flight at once', placeholder: 'n' },
    },
  });
  const customers = intOption('customers', values.customers);
  const rps = intOption('rps', values.rps);
  const concurrency = intOption('concurrency', values.concurrency);

  const fake = await startStripeFake();
  const { secretKey } = fake.addAccount();
  const remote = stripeBillingRemote({ secretKey, apiBase: fake.url, outbound: policyOutbound({ maxRequestsPerSecond: rps }) });
  const plan = await remote.createPlan({ canonicalId: 'plan_bench', code: 'bench', name: 'Bench', prices: [{ canonicalId: 'price_bench', unitAmount: { amountMinor: '4900', currency: 'USD' }, interval: 'MONTH' }] }, { idempotencyKey: 'bench:plan' });
  const price = plan.prices[0]?.remoteId ?? '';
  const logStart = fake.log.length;

  const latencies: number[] = [];
  let next = 0;
  let failures = 0;
  const started = performance.now();
  const worker = async () => {
    for (let i = next++; i < customers; i = next++) {
      const t0 = performance.now();
      try {
        const cus = await remote.upsertCustomer({ id: `acc_${i}`, name: `Customer ${i}`, currency: 'USD', remoteId: null }, { idempotencyKey: `bench:${i}:customer` });
        await remote.createSubscription({ canonicalId: `bsub_${i}`, customerRemoteId: cus.remoteId, items: [{ priceRemoteId: price, quantity: 1 }], trialDays: 0, daysUntilDue: 30 }, { idempotencyKey: `bench:${i}:subscription` });
        latencies.push(performance.now() - t0);
      } catch (err) {
        failures += 1;
        if (failures <= 3) console.error(err);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;

  const requests = fake.log.slice(logStart);
  const store = fake.account(fake.log[logStart]?.account ?? '');
  latencies.sort((a, b) => a - b);
  console.log(`Stripe initial sync: ${customers} customers + subscriptions, outbound limit ${rps} req/s, ${concurrency} workers`);
  console.log(machineDescription());
  console.log(table(['measure', 'value'], [
    ['wall time (s)', seconds.toFixed(1)],
    ['customers+subscriptions per second', (customers / seconds).toFixed(1)],
    ['requests sent', String(requests.length)],
    ['requests per second (mean)', (requests.length / seconds).toFixed(1)],
    ['max requests in any 1 s window (fake)', String(fake.maxRequestsPer(1000, requests))],
    ['limit held', fake.maxRequestsPer(1000, requests) <= rps ? 'yes' : 'NO'],
    ['pair latency p50 / p99 (ms)', `${percentile(latencies, 50).toFixed(0)} / ${percentile(latencies, 99).toFixed(0)}`],
    ['failures', String(failures)],
    ['customers / subscriptions at the fake', `${store.customers.size} / ${store.subscriptions.size}`],
  ]));
  await fake.close();
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
