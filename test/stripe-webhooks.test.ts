import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import { directOutbound } from '../lib/connectors/outbound';
import { WebhookSignatureError } from '../lib/connectors/remote';
import { type StripeFake, startStripeFake } from '../fakes/stripe/server';
import { stripeSignature } from '../fakes/stripe/webhooks';
import { type BillingRemote, WebhookVerificationError } from '../subgraphs/billing/connector/remote-port';
import { stripeBillingRemote, stripeWebhooks } from '../subgraphs/billing/connector/stripe';

interface Delivery {
  body: string;
  signature: string | undefined;
  type: string;
  id: string;
}

/** A webhook receiver over real HTTP that keeps each raw body; `answer` decides the status of the next deliveries. */
async function startReceiver() {
  const received: Delivery[] = [];
  const waiters = new Set<() => void>();
  const statuses: number[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const status = statuses.shift() ?? 200;
      if (status === 200) {
        const { id, type } = JSON.parse(body) as { id: string; type: string };
        received.push({ body, signature: req.headers['stripe-signature'] as string | undefined, id, type });
        for (const wake of waiters) wake();
      }
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/stripe/conn_test`,
    received,
    /** The next deliveries answer these statuses (then 200). */
    answer: (...s: number[]) => statuses.push(...s),
    /** Resolves with the first delivery matching, waking on each delivery; bounded. */
    async next(match: (d: Delivery) => boolean, timeoutMs = 10_000): Promise<Delivery> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hit = received.find(match);
        if (hit) return hit;
        if (Date.now() > deadline) throw new Error('no matching webhook before the timeout');
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, deadline - Date.now()).unref();
          waiters.add(() => (clearTimeout(timer), resolve()));
        });
        waiters.clear();
      }
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('Stripe webhooks: the fake signs and sends, the adapter verifies', () => {
  let fake: StripeFake;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let remote: BillingRemote;
  let secret: string;
  let accountId: string;
  let n = 0;
  const customer = () => {
    n += 1;
    return remote.upsertCustomer({ id: `acc_wh_${n}`, name: `Hook ${n}`, currency: 'USD', remoteId: null }, { idempotencyKey: `wh:${n}` });
  };

  beforeAll(async () => {
    fake = await startStripeFake({ webhookRetryDelayMs: 10 });
    receiver = await startReceiver();
    const account = fake.addAccount();
    accountId = account.accountId;
    secret = fake.addWebhookEndpoint(accountId, receiver.url);
    remote = stripeBillingRemote({ secretKey: account.secretKey, apiBase: fake.url, outbound: directOutbound });
  });
  afterAll(async () => {
    await fake.close();
    await receiver.close();
  });

  it('signs with Stripe\'s real scheme (the SDK computes the same header)', () => {
    const payload = JSON.stringify({ id: 'evt_1', object: 'event' });
    expect(stripeSignature(payload, 'whsec_abc', 1_700_000_000)).toBe(
      Stripe.webhooks.generateTestHeaderString({ payload, secret: 'whsec_abc', timestamp: 1_700_000_000 }),
    );
  });

  it('sends a signed customer.created that verifies into the changed record', async () => {
    const cus = await customer();
    const delivery = await receiver.next((d) => d.type === 'customer.created' && d.body.includes(cus.remoteId));
    const event = stripeWebhooks({ secret }).verify(Buffer.from(delivery.body), delivery.signature);
    expect(event).toEqual({ eventId: delivery.id, type: 'customer.created', objectKind: 'customer', remoteId: cus.remoteId, created: expect.any(String) });
    expect(event.eventId).toMatch(/^evt_/);
    expect(Date.parse(event.created)).not.toBeNaN();
  });

  it('sends subscription and invoice events, and invoice.paid for a payment made out of band', async () => {
    const cus = await customer();
    const plan = await remote.createPlan({ canonicalId: 'plan_wh', code: 'wh', name: 'Hooks', prices: [{ canonicalId: 'price_wh', unitAmount: { amountMinor: '1000', currency: 'USD' }, interval: 'MONTH' }] }, { idempotencyKey: `wh:plan:${n}` });
    const sub = await remote.createSubscription({ canonicalId: 'bsub_wh', customerRemoteId: cus.remoteId, items: [{ priceRemoteId: plan.prices[0]?.remoteId ?? '', quantity: 1 }], trialDays: 0, daysUntilDue: 30 }, { idempotencyKey: `wh:sub:${n}` });
    const verify = (d: Delivery) => stripeWebhooks({ secret }).verify(d.body, d.signature);
    expect(verify(await receiver.next((d) => d.type === 'customer.subscription.created' && d.body.includes(sub.remoteId))))
      .toMatchObject({ objectKind: 'subscription', remoteId: sub.remoteId });
    const invoiceId = sub.latestInvoiceRemoteId ?? '';
    expect(verify(await receiver.next((d) => d.type === 'invoice.finalized' && d.body.includes(invoiceId))))
      .toMatchObject({ objectKind: 'invoice', remoteId: invoiceId });

    fake.payInvoice(accountId, invoiceId);
    const paid = verify(await receiver.next((d) => d.type === 'invoice.paid' && d.body.includes(invoiceId)));
    expect(paid).toMatchObject({ objectKind: 'invoice', remoteId: invoiceId });
    // The event is a hint; the record re-read by id is the truth.
    expect((await remote.retrieveInvoice(paid.remoteId))?.status).toBe('PAID');
  });

  it('refuses a tampered body, another secret, a stale timestamp and a missing signature', async () => {
    const cus = await customer();
    const d = await receiver.next((x) => x.type === 'customer.created' && x.body.includes(cus.remoteId));
    const webhooks = stripeWebhooks({ secret });
    expect(() => webhooks.verify(d.body, d.signature)).not.toThrow();
    expect(() => webhooks.verify(d.body.replace(cus.remoteId, 'cus_forged'), d.signature)).toThrow(WebhookVerificationError);
    expect(() => stripeWebhooks({ secret: 'whsec_other' }).verify(d.body, d.signature)).toThrow(WebhookVerificationError);
    const tenMinutesAgo = Math.floor(Date.now() / 1000) - 600;
    expect(() => webhooks.verify(d.body, stripeSignature(d.body, secret, tenMinutesAgo))).toThrow(WebhookVerificationError);
    expect(() => stripeWebhooks({ secret, toleranceSeconds: 900 }).verify(d.body, stripeSignature(d.body, secret, tenMinutesAgo))).not.toThrow();
    expect(() => webhooks.verify(d.body, undefined)).toThrow(WebhookVerificationError);
    // The same error class as every vendor port's, so one webhook route answers all of them 401.
    expect(() => webhooks.verify(d.body, undefined)).toThrow(WebhookSignatureError);
    expect(() => webhooks.verify(d.body, 't=1,v1=deadbeef')).toThrow(WebhookVerificationError);
  });

  it('retries a delivery the receiver failed, and resends an event on demand (at least once)', async () => {
    receiver.answer(500);
    const cus = await customer();
    const first = await receiver.next((d) => d.type === 'customer.created' && d.body.includes(cus.remoteId));
    await fake.webhooks.settled();
    const attempts = fake.webhooks.deliveries.filter((x) => x.eventId === first.id);
    expect(attempts.map((a) => a.status)).toEqual([500, 200]);

    fake.resendEvent(accountId, first.id);
    await fake.webhooks.settled();
    expect(receiver.received.filter((d) => d.id === first.id)).toHaveLength(2);
  });

  it('can deliver held events out of order', async () => {
    fake.webhooks.hold();
    const cus = await customer();
    await remote.upsertCustomer({ id: `acc_wh_${n}`, name: 'Renamed', currency: 'USD', remoteId: cus.remoteId }, { idempotencyKey: `wh:rename:${n}` });
    fake.webhooks.release((held) => [...held].reverse());
    await fake.webhooks.settled();
    const types = receiver.received.filter((d) => d.body.includes(cus.remoteId)).map((d) => d.type);
    expect(types).toEqual(['customer.updated', 'customer.created']);
  });
});
