import { randomUUID } from 'node:crypto';
import { PermanentError } from '../../lib/connectors/errors';
import type { BillingRemote, RemoteCustomer, RemotePage, RemotePageRequest, RemotePlan } from '../../subgraphs/billing/connector/remote-port';

/** What a billing adapter's test gives the contract: a fresh remote (its account empty or not) and how to end it. */
export interface BillingRemoteHarness {
  remote: BillingRemote;
  close(): Promise<void>;
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;
const MINOR_UNITS = /^\d+$/;

/**
 * The behaviour every adapter of `BillingRemote` must have, written against the port only (the graphql-ws way: one
 * suite, every adapter). Call it from a test file with a factory: `billingRemoteContract('stripe', async () => ...)`.
 * Keys and canonical ids are unique per run, so the suite also works on an account that already holds data.
 */
export function billingRemoteContract(name: string, factory: () => Promise<BillingRemoteHarness>): void {
  describe(`BillingRemote contract: ${name}`, () => {
    let harness: BillingRemoteHarness;
    let remote: BillingRemote;
    let plan: RemotePlan;
    const run = randomUUID().slice(0, 8);
    const key = (step: string) => ({ idempotencyKey: `contract:${run}:${step}` });
    const id = (prefix: string) => `${prefix}_${run}_${randomUUID().slice(0, 8)}`;
    const customer = (label: string): Promise<RemoteCustomer> =>
      remote.upsertCustomer({ id: id('acc'), name: `Contract ${label}`, currency: 'EUR', remoteId: null }, key(`customer:${label}`));
    const everything = async <T>(list: (p: RemotePageRequest) => Promise<RemotePage<T>>, limit: number) => {
      const pages: T[][] = [];
      let cursor: string | null = null;
      do {
        const page: RemotePage<T> = await list({ limit, startingAfter: cursor });
        pages.push(page.items);
        cursor = page.hasMore ? page.nextCursor : null;
        expect(page.hasMore ? page.nextCursor : null).toBe(cursor);
      } while (cursor);
      return pages;
    };

    beforeAll(async () => {
      harness = await factory();
      remote = harness.remote;
      plan = await remote.createPlan({
        canonicalId: id('plan'), code: `pro-${run}`, name: 'Pro',
        prices: [
          { canonicalId: id('price'), unitAmount: { amountMinor: '4900', currency: 'EUR' }, interval: 'MONTH' },
          { canonicalId: id('price'), unitAmount: { amountMinor: '49000', currency: 'EUR' }, interval: 'YEAR' },
        ],
      }, key('plan'));
    });
    afterAll(() => harness.close());

    const monthly = () => {
      const price = plan.prices.find((p) => p.interval === 'MONTH');
      if (!price) throw new Error('the plan has no monthly price');
      return price;
    };

    it('reaches the vendor with its credentials', async () => {
      expect((await remote.checkAccess()).accountId).toEqual(expect.any(String));
    });

    it('creates plans whose prices read back in minor units with their plan code', async () => {
      expect(plan).toMatchObject({ code: `pro-${run}`, name: 'Pro', active: true });
      const back = await remote.retrievePrice(monthly().remoteId);
      expect(back).toMatchObject({ remoteId: monthly().remoteId, planCode: `pro-${run}`, productRemoteId: plan.remoteId, interval: 'MONTH', active: true });
      expect(back?.unitAmount).toEqual({ amountMinor: '4900', currency: 'EUR' });
      expect(back?.canonicalId).toBe(monthly().canonicalId);
    });

    it('upserts a customer under our canonical id and renames it by remote id', async () => {
      const accountId = id('acc');
      const created = await remote.upsertCustomer({ id: accountId, name: 'Acme Ltd', currency: 'EUR', remoteId: null }, key('upsert:create'));
      expect(created).toMatchObject({ canonicalId: accountId, name: 'Acme Ltd' });
      expect(Date.parse(created.remoteUpdatedAt)).not.toBeNaN();
      const renamed = await remote.upsertCustomer({ id: accountId, name: 'Acme Group', currency: 'EUR', remoteId: created.remoteId }, key('upsert:rename'));
      expect(renamed).toMatchObject({ remoteId: created.remoteId, canonicalId: accountId, name: 'Acme Group' });
      expect(await remote.retrieveCustomer(created.remoteId)).toMatchObject({ remoteId: created.remoteId, canonicalId: accountId, name: 'Acme Group' });
    });

    it('creates one record when a write is repeated with the same key', async () => {
      const accountId = id('acc');
      const input = { id: accountId, name: 'Twice Inc', currency: 'EUR', remoteId: null };
      const first = await remote.upsertCustomer(input, key('upsert:twice'));
      const second = await remote.upsertCustomer(input, key('upsert:twice'));
      expect(second.remoteId).toBe(first.remoteId);
      const all = (await everything((p) => remote.listCustomers(p), 100)).flat();
      expect(all.filter((c) => c.canonicalId === accountId)).toHaveLength(1);
    });

    it('refuses a key reused for another write with a permanent error', async () => {
      await customer('reuse');
      await expect(remote.upsertCustomer({ id: id('acc'), name: 'Other', currency: 'EUR', remoteId: null }, key('customer:reuse')))
        .rejects.toBeInstanceOf(PermanentError);
    });

    it('pages through every customer with a cursor, each exactly once', async () => {
      const ours = new Set<string>();
      for (let n = 0; n < 12; n++) ours.add((await customer(`page-${n}`)).remoteId);
      const pages = await everything((p) => remote.listCustomers(p), 5);
      expect(pages.length).toBeGreaterThan(2);
      const seen = pages.flat().map((c) => c.remoteId);
      expect(new Set(seen).size).toBe(seen.length);
      expect(seen.filter((s) => ours.has(s)).sort()).toEqual([...ours].sort());
      for (const page of pages) expect(page.length).toBeLessThanOrEqual(5);
    });

    it('runs a subscription from creation through item changes to cancellation', async () => {
      const cus = await customer('subscriber');
      const subId = id('bsub');
      const sub = await remote.createSubscription({
        canonicalId: subId, customerRemoteId: cus.remoteId, items: [{ priceRemoteId: monthly().remoteId, quantity: 2 }], trialDays: 0, daysUntilDue: 30,
      }, key('sub:create'));
      expect(sub).toMatchObject({ canonicalId: subId, customerRemoteId: cus.remoteId, status: 'ACTIVE', currency: 'EUR', cancelAtPeriodEnd: false, canceledAt: null });
      expect(sub.currentPeriodStart).toMatch(ISO_DATE);
      expect(sub.currentPeriodEnd > sub.currentPeriodStart).toBe(true);
      expect(sub.items.map((i) => ({ price: i.price.remoteId, quantity: i.quantity, code: i.price.planCode }))).toEqual([{ price: monthly().remoteId, quantity: 2, code: `pro-${run}` }]);
      expect(await remote.retrieveSubscription(sub.remoteId)).toMatchObject({ remoteId: sub.remoteId, canonicalId: subId, status: 'ACTIVE' });

      const changed = await remote.replaceSubscriptionItems(sub.remoteId, [{ priceRemoteId: monthly().remoteId, quantity: 5 }], key('sub:items'));
      expect(changed.items.map((i) => i.quantity)).toEqual([5]);
      // Asking for what is already there changes nothing (a retry after a lost answer).
      const again = await remote.replaceSubscriptionItems(sub.remoteId, [{ priceRemoteId: monthly().remoteId, quantity: 5 }], key('sub:items:again'));
      expect(again.items.map((i) => i.remoteId)).toEqual(changed.items.map((i) => i.remoteId));

      const atEnd = await remote.cancelSubscription(sub.remoteId, true, key('sub:cancel-at-end'));
      expect(atEnd).toMatchObject({ status: 'ACTIVE', cancelAtPeriodEnd: true });
      const canceled = await remote.cancelSubscription(sub.remoteId, false, key('sub:cancel'));
      expect(canceled.status).toBe('CANCELED');
      expect(canceled.canceledAt).not.toBeNull();
      expect((await remote.cancelSubscription(sub.remoteId, false, key('sub:cancel:again'))).status).toBe('CANCELED');
      await expect(remote.replaceSubscriptionItems(sub.remoteId, [{ priceRemoteId: monthly().remoteId, quantity: 1 }], key('sub:items:canceled')))
        .rejects.toMatchObject({ code: 'SUBSCRIPTION_CANCELED' });

      const listed = (await everything((p) => remote.listSubscriptions({ ...p, customerRemoteId: cus.remoteId }), 10)).flat();
      expect(listed.map((s) => [s.remoteId, s.status])).toEqual([[sub.remoteId, 'CANCELED']]);
    });

    it('starts a trial as TRIALING with its end date', async () => {
      const cus = await customer('trial');
      const sub = await remote.createSubscription({
        canonicalId: id('bsub'), customerRemoteId: cus.remoteId, items: [{ priceRemoteId: monthly().remoteId, quantity: 1 }], trialDays: 14, daysUntilDue: 30,
      }, key('trial:create'));
      expect(sub.status).toBe('TRIALING');
      expect(sub.trialEnd).toMatch(ISO_DATE);
    });

    it('raises, issues and settles an invoice in minor units', async () => {
      const cus = await customer('invoiced');
      const invoiceId = id('inv');
      const draft = await remote.createInvoice({
        canonicalId: invoiceId, customerRemoteId: cus.remoteId, subscriptionRemoteId: null, currency: 'EUR', daysUntilDue: 14,
        lines: [{ description: 'Setup', amount: { amountMinor: '12345', currency: 'EUR' } }, { description: 'Training', amount: { amountMinor: '100', currency: 'EUR' } }],
      }, key('invoice:create'));
      expect(draft).toMatchObject({ canonicalId: invoiceId, customerRemoteId: cus.remoteId, status: 'DRAFT', number: null });
      expect(draft.total).toEqual({ amountMinor: '12445', currency: 'EUR' });
      expect(draft.lines.map((l) => [l.description, l.amount.amountMinor]).sort()).toEqual([['Setup', '12345'], ['Training', '100']]);

      const issued = await remote.finalizeInvoice(draft.remoteId, key('invoice:finalize'));
      expect(issued).toMatchObject({ status: 'ISSUED', amountDue: { amountMinor: '12445', currency: 'EUR' } });
      expect(issued.number).toEqual(expect.any(String));
      expect(issued.dueDate).toMatch(ISO_DATE);
      expect((await remote.finalizeInvoice(draft.remoteId, key('invoice:finalize:again'))).number).toBe(issued.number);

      const paid = await remote.markInvoicePaid(draft.remoteId, key('invoice:pay'));
      expect(paid).toMatchObject({ status: 'PAID', amountPaid: { amountMinor: '12445', currency: 'EUR' }, amountRemaining: { amountMinor: '0', currency: 'EUR' } });
      expect((await remote.markInvoicePaid(draft.remoteId, key('invoice:pay:again'))).status).toBe('PAID');
      for (const m of [paid.total, paid.amountDue, paid.amountPaid, ...paid.lines.map((l) => l.amount)]) expect(m.amountMinor).toMatch(MINOR_UNITS);
      // The invoice's payments, each with its own id, add up to what it says was paid.
      const payments = (await remote.listInvoicePayments(draft.remoteId)).filter((p) => p.status === 'PAID');
      expect(payments.length).toBeGreaterThan(0);
      expect(new Set(payments.map((p) => p.remoteId)).size).toBe(payments.length);
      expect(payments.every((p) => p.invoiceRemoteId === draft.remoteId && p.amount.currency === 'EUR')).toBe(true);
      expect(payments.reduce((sum, p) => sum + BigInt(p.amount.amountMinor), 0n)).toBe(12445n);

      const listed = (await everything((p) => remote.listInvoices({ ...p, customerRemoteId: cus.remoteId }), 10)).flat();
      expect(listed.map((i) => i.remoteId)).toEqual([draft.remoteId]);
    });

    it('answers null for records it does not have', async () => {
      expect(await remote.retrieveCustomer('cus_doesnotexist')).toBeNull();
      expect(await remote.retrieveSubscription('sub_doesnotexist')).toBeNull();
      expect(await remote.retrieveInvoice('in_doesnotexist')).toBeNull();
      expect(await remote.retrievePrice('price_doesnotexist')).toBeNull();
    });
  });
}
