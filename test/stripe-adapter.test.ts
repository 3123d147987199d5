import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { AuthError, PermanentError, TransientError } from '../lib/connectors/errors';
import type { Outbound } from '../lib/connectors/outbound';
import { type StripeFake, startStripeFake } from '../fakes/stripe/server';
import type { BillingRemote, RemotePlan } from '../subgraphs/billing/connector/remote-port';
import { STRIPE_API_VERSION, type StripeBillingOptions, stripeBillingRemote, stripeRequestsPerSecond } from '../subgraphs/billing/connector/stripe';

/** A real Outbound without policies that records which operations went through it. */
function recordingOutbound(): Outbound & { operations: string[] } {
  const operations: string[] = [];
  return { operations, call: (operation, fn) => (operations.push(operation), fn(new AbortController().signal)) };
}

describe('Stripe adapter against the Stripe fake', () => {
  let fake: StripeFake;
  let account: { accountId: string; secretKey: string };
  let outbound: ReturnType<typeof recordingOutbound>;
  let remote: BillingRemote;
  let plan: RemotePlan;
  let run = 0;
  const adapter = (options: Partial<StripeBillingOptions> = {}) =>
    stripeBillingRemote({ secretKey: account.secretKey, apiBase: fake.url, outbound, ...options });
  const key = (step: string) => ({ idempotencyKey: `job-${run}:${step}` });
  const upsert = (k: string, name = 'Acme', id = `acc_${run}`) => remote.upsertCustomer({ id, name, currency: 'USD', remoteId: null }, key(k));
  const monthlyPrice = () => plan.prices[0]?.remoteId ?? '';

  beforeAll(async () => {
    fake = await startStripeFake();
    account = fake.addAccount();
    outbound = recordingOutbound();
    remote = adapter();
    plan = await remote.createPlan({ canonicalId: 'plan_pro', code: 'pro', name: 'Pro', prices: [{ canonicalId: 'price_pro_usd', unitAmount: { amountMinor: '2500', currency: 'USD' }, interval: 'MONTH' }] }, { idempotencyKey: 'seed:plan' });
  });
  beforeEach(() => {
    run += 1;
  });
  afterEach(() => fake.heal());
  afterAll(() => fake.close());

  it('sends every call through the Outbound, each POST with its own Idempotency-Key and every request with the pinned Stripe-Version', async () => {
    const [logBefore, callsBefore] = [fake.log.length, outbound.operations.length];
    const cus = await upsert('customer');
    const sub = await remote.createSubscription({ canonicalId: `bsub_${run}`, customerRemoteId: cus.remoteId, items: [{ priceRemoteId: monthlyPrice(), quantity: 1 }], trialDays: 0, daysUntilDue: 30 }, key('subscription'));
    const inv = await remote.createInvoice({ canonicalId: `inv_${run}`, customerRemoteId: cus.remoteId, subscriptionRemoteId: sub.remoteId, currency: 'USD', daysUntilDue: 30, lines: [{ description: 'Setup', amount: { amountMinor: '900', currency: 'USD' } }, { description: 'Extra', amount: { amountMinor: '100', currency: 'USD' } }] }, key('invoice'));
    await remote.finalizeInvoice(inv.remoteId, key('finalize'));

    const requests = fake.log.slice(logBefore);
    expect(requests).toHaveLength(outbound.operations.length - callsBefore);
    expect(requests.every((r) => r.stripeVersion === STRIPE_API_VERSION)).toBe(true);
    const posts = requests.filter((r) => r.method === 'POST');
    expect(posts.map((r) => r.path)).toEqual(['/v1/customers', '/v1/subscriptions', '/v1/invoices', '/v1/invoiceitems', '/v1/invoiceitems', `/v1/invoices/${inv.remoteId}/finalize`]);
    expect(posts.map((r) => r.idempotencyKey)).toEqual([
      `job-${run}:customer`, `job-${run}:subscription`, `job-${run}:invoice:invoice`, `job-${run}:invoice:line:0`, `job-${run}:invoice:line:1`, `job-${run}:finalize`,
    ]);
    expect(requests.filter((r) => r.method === 'GET').every((r) => r.idempotencyKey === null)).toBe(true);
    // The subscription's own first invoice and ours: nothing else was raised for this customer.
    const store = fake.account(account.accountId);
    expect([...store.invoices.values()].filter((i) => i.customer === cus.remoteId)).toHaveLength(2);
    expect([...store.subscriptions.values()].filter((s) => s.customer === cus.remoteId)).toHaveLength(1);
  });

  it('creates one customer when a write whose answer was lost is retried with the same key', async () => {
    // Both the request and the SDK's own one retry of a closed connection lose their answers.
    fake.dropResponseNext(2);
    await expect(upsert('lost')).rejects.toBeInstanceOf(TransientError);
    const retried = await upsert('lost');
    const withKey = fake.log.filter((r) => r.idempotencyKey === `job-${run}:lost`);
    expect(withKey.filter((r) => !r.replayed)).toHaveLength(1);
    expect(withKey.at(-1)?.replayed).toBe(true);
    const store = fake.account(account.accountId);
    expect([...store.customers.values()].filter((c) => c.metadata['canonicalId'] === `acc_${run}`).map((c) => c.id)).toEqual([retried.remoteId]);
  });

  it('refuses an Idempotency-Key reused with other parameters as a permanent idempotency_error', async () => {
    await upsert('reused', 'First name');
    const err = await upsert('reused', 'Other name').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermanentError);
    expect(err).not.toBeInstanceOf(AuthError);
    expect(err).toMatchObject({ code: 'idempotency_error' });
  });

  it.each([500, 502, 503])('maps a %d to a TransientError', async (status) => {
    fake.failNext(1, status);
    await expect(upsert('5xx')).rejects.toMatchObject({ constructor: TransientError, code: 'VENDOR_UNAVAILABLE' });
    // Nothing ran behind the fault: the retry creates the customer.
    expect((await upsert('5xx')).canonicalId).toBe(`acc_${run}`);
  });

  it('maps a 429 to a TransientError carrying Retry-After in milliseconds', async () => {
    fake.rateLimitNext(1, 7);
    const err = await remote.listCustomers({ limit: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransientError);
    expect(err).toMatchObject({ code: 'RATE_LIMITED', retryAfterMs: 7000 });
  });

  it('maps Stripe 400s and 404s to PermanentErrors with Stripe\'s code', async () => {
    await expect(remote.listCustomers({ limit: 500 })).rejects.toMatchObject({ constructor: PermanentError, code: 'parameter_invalid' });
    await expect(remote.upsertCustomer({ id: 'acc_x', name: 'X', currency: 'USD', remoteId: 'cus_missing' }, key('missing')))
      .rejects.toMatchObject({ constructor: PermanentError, code: 'resource_missing' });
    await expect(remote.createSubscription({ canonicalId: 'bsub_x', customerRemoteId: 'cus_missing', items: [{ priceRemoteId: monthlyPrice(), quantity: 1 }], trialDays: 0, daysUntilDue: 30 }, key('sub-missing')))
      .rejects.toMatchObject({ constructor: PermanentError, code: 'resource_missing' });
  });

  it('maps a call that outlives the SDK timeout to a TransientError', async () => {
    fake.setLatency(5_000);
    await expect(adapter({ timeoutMs: 100 }).listCustomers({ limit: 1 })).rejects.toBeInstanceOf(TransientError);
  });

  it('stops waiting with a TransientError when the Outbound aborts the call', async () => {
    fake.setLatency(5_000);
    const aborting: Outbound = {
      call: (_operation, fn) => {
        const controller = new AbortController();
        setTimeout(() => controller.abort(), 50).unref();
        return fn(controller.signal);
      },
    };
    await expect(adapter({ outbound: aborting }).listCustomers({ limit: 1 })).rejects.toMatchObject({ constructor: TransientError, code: 'TIMEOUT' });
  });

  it('maps a refused connection to a TransientError', async () => {
    const closedPort = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    await expect(adapter({ apiBase: `http://127.0.0.1:${closedPort}` }).checkAccess()).rejects.toMatchObject({ constructor: TransientError, code: 'VENDOR_UNREACHABLE' });
  });

  it('maps a revoked key to an AuthError, and works again with the rolled key', async () => {
    const own = fake.addAccount();
    const before = stripeBillingRemote({ secretKey: own.secretKey, apiBase: fake.url, outbound });
    expect((await before.checkAccess()).accountId).toBe(own.accountId);
    const rolled = fake.rollKey(own.secretKey);
    const err = await before.checkAccess().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthError);
    expect(err).toMatchObject({ code: 'AUTH_ERROR', status: 401 });
    expect((await stripeBillingRemote({ secretKey: rolled, apiBase: fake.url, outbound }).checkAccess()).accountId).toBe(own.accountId);
    await expect(stripeBillingRemote({ secretKey: 'sk_test_unknown', apiBase: fake.url, outbound }).checkAccess()).rejects.toBeInstanceOf(AuthError);
  });

  it('reads the subscription Stripe raised with its first invoice', async () => {
    const cus = await upsert('first-invoice');
    const sub = await remote.createSubscription({ canonicalId: `bsub_${run}`, customerRemoteId: cus.remoteId, items: [{ priceRemoteId: monthlyPrice(), quantity: 3 }], trialDays: 0, daysUntilDue: 15 }, key('sub'));
    const first = await remote.retrieveInvoice(sub.latestInvoiceRemoteId ?? '');
    expect(first).toMatchObject({ subscriptionRemoteId: sub.remoteId, customerRemoteId: cus.remoteId, status: 'ISSUED', total: { amountMinor: '7500', currency: 'USD' } });
    expect([first?.periodStart, first?.periodEnd]).toEqual([sub.currentPeriodStart, sub.currentPeriodEnd]);
    expect((await remote.retrieveCustomer(cus.remoteId))?.currency).toBe('USD');
  });

  it('maps Stripe statuses onto ours and reads the product of a price once', async () => {
    const cus = await upsert('statuses');
    const sub = await remote.createSubscription({ canonicalId: `bsub_${run}`, customerRemoteId: cus.remoteId, items: [{ priceRemoteId: monthlyPrice(), quantity: 1 }], trialDays: 0, daysUntilDue: 30 }, key('sub'));
    const store = fake.account(account.accountId);
    const reads = () => fake.log.filter((r) => r.path === `/v1/products/${plan.remoteId}`).length;
    const before = reads();
    for (const [stripe, ours] of [['unpaid', 'PAST_DUE'], ['past_due', 'PAST_DUE'], ['incomplete', 'PAST_DUE'], ['paused', 'ACTIVE'], ['incomplete_expired', 'CANCELED']] as const) {
      store.setSubscriptionStatus(sub.remoteId, stripe);
      const back = await remote.retrieveSubscription(sub.remoteId);
      expect([stripe, back?.status]).toEqual([stripe, ours]);
      expect(back?.remoteData).toMatchObject({ status: stripe });
      expect(back?.items[0]?.price.planCode).toBe('pro');
    }
    // The plan code comes from the product, cached by the adapter: no product read per subscription read.
    expect(reads()).toBe(before);
  });

  it('knows Stripe\'s published limit for a key\'s mode', () => {
    expect(['sk_test_abc', 'rk_test_abc', 'sk_live_abc', 'rk_live_abc', 'sk_demo'].map(stripeRequestsPerSecond)).toEqual([25, 25, 100, 100, 25]);
  });

  it('reads a customer deleted at Stripe as absent', async () => {
    const cus = await upsert('deleted');
    fake.account(account.accountId).deleteCustomer({ requestId: 'req_test', idempotencyKey: null }, cus.remoteId);
    expect(await remote.retrieveCustomer(cus.remoteId)).toBeNull();
  });

  it('keeps the vendor record as remoteData', async () => {
    const cus = await upsert('raw', 'Raw Co');
    expect(cus.remoteData).toMatchObject({ object: 'customer', id: cus.remoteId, name: 'Raw Co', metadata: { canonicalId: `acc_${run}` } });
  });
});
