import { randomUUID } from 'node:crypto';
import { BillingRuleViolation } from '../../subgraphs/billing/connector/errors';
import type { NewSubscriptionItem, PlanPriceModel } from '../../subgraphs/billing/connector/models';
import type { BillingConnector } from '../../subgraphs/billing/connector/port';

/** What a billing port's test gives the contract: the port bound to a tenant whose catalog is seeded, and its end. */
export interface BillingConnectorHarness {
  billing: BillingConnector;
  close(): Promise<void>;
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}/;

/**
 * The behaviour every implementation of the billing port (`BillingConnector`) must have, written against the port
 * only: the reference store and the mirror + vendor port (Stripe) run the same suite. Ids are unique per run, so the
 * suite works on a tenant that already holds data. The catalog (plan `growth` with EUR prices) must be seeded.
 */
export function billingConnectorContract(name: string, factory: () => Promise<BillingConnectorHarness>): void {
  describe(`BillingConnector contract: ${name}`, () => {
    let harness: BillingConnectorHarness;
    let billing: BillingConnector;
    let monthly: PlanPriceModel;
    const run = randomUUID().slice(0, 8);
    const id = (prefix: string) => `${prefix}_${run}_${randomUUID().slice(0, 8)}`;
    const items = (quantity: number): NewSubscriptionItem[] => [{ planId: monthly.planId, priceId: monthly.id, quantity }];
    const newCustomer = async (name: string) => {
      const accountId = id('acc');
      await billing.upsertCustomer({ id: accountId, name, currency: 'EUR' });
      return accountId;
    };
    const subscribe = async (accountId: string, opts: { quantity?: number; trialDays?: number } = {}) =>
      billing.createSubscription({
        id: id('bsub'), accountId, currency: 'EUR', status: opts.trialDays ? 'TRIALING' : 'ACTIVE',
        periodStart: new Date().toISOString().slice(0, 10), trialDays: opts.trialDays ?? 0, items: items(opts.quantity ?? 1),
      });
    const rule = async (write: Promise<unknown>) => {
      const err: unknown = await write.then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(BillingRuleViolation);
      return (err as BillingRuleViolation).domainCode;
    };

    beforeAll(async () => {
      harness = await factory();
      billing = harness.billing;
      const prices = await billing.activePricesByPlanCodes(['growth'], 'EUR');
      const found = prices.find((p) => p.interval === 'MONTH');
      if (!found) throw new Error('the catalog has no monthly EUR price for growth');
      monthly = found;
    });
    afterAll(() => harness.close());

    it('sells active plans: prices per code and currency, in minor units', async () => {
      const prices = await billing.activePricesByPlanCodes(['growth', 'no-such-plan'], 'EUR');
      expect(new Set(prices.map((p) => p.interval))).toEqual(new Set(['MONTH', 'YEAR']));
      for (const p of prices) {
        expect(p).toMatchObject({ planCode: 'growth', currency: 'EUR' });
        expect(p.unitAmount.amountMinor).toMatch(/^\d+$/);
      }
      const [plan] = await billing.plansByIds([monthly.planId]);
      expect(plan?.code).toBe('growth');
    });

    it('upserts a customer: created once, renamed in place, payment terms kept', async () => {
      const accountId = await newCustomer('Contract Co');
      const renamed = await billing.upsertCustomer({ id: accountId, name: 'Contract Co (renamed)', currency: 'EUR' });
      expect(renamed.remoteId).toBeTruthy();
      const customers = await billing.customersByIds([accountId, id('acc')]);
      expect(customers).toHaveLength(1);
      expect(customers[0]).toMatchObject({ id: accountId, name: 'Contract Co (renamed)', currency: 'EUR' });
    });

    it('creates a subscription once per caller id, with its items, and lists it by account', async () => {
      const accountId = await newCustomer('Subscriber');
      const input = {
        id: id('bsub'), accountId, currency: 'EUR', status: 'ACTIVE' as const, periodStart: new Date().toISOString().slice(0, 10), trialDays: 0, items: items(2),
      };
      const first = await billing.createSubscription(input);
      const again = await billing.createSubscription(input);
      expect(again.id).toBe(first.id);
      expect(first).toMatchObject({ accountId, status: 'ACTIVE', currency: 'EUR', canceledAt: null, trialEnd: null });
      expect(first.currentPeriodStart).toMatch(ISO_DATE);
      expect(first.items.map((i) => [i.price.id, i.quantity])).toEqual([[monthly.id, 2]]);
      expect((await billing.subscriptionsByAccounts([accountId], null)).map((s) => s.id)).toEqual([first.id]);
      expect((await billing.subscriptionsByAccounts([accountId], ['CANCELED']))).toEqual([]);
      expect((await billing.listSubscriptions({ accountId }, { limit: 10, afterId: null })).map((s) => s.id)).toEqual([first.id]);
    });

    it('starts a trial as TRIALING with its end date', async () => {
      const sub = await subscribe(await newCustomer('Trialist'), { trialDays: 14 });
      expect(sub.status).toBe('TRIALING');
      expect(sub.trialEnd).toMatch(ISO_DATE);
    });

    it('replaces items; unknown and canceled subscriptions answer null', async () => {
      const sub = await subscribe(await newCustomer('Changer'));
      const changed = await billing.replaceItems(sub.id, items(4));
      expect(changed?.items.map((i) => i.quantity)).toEqual([4]);
      expect((await billing.subscriptionsByIds([sub.id]))[0]?.items.map((i) => i.quantity)).toEqual([4]);
      expect(await billing.replaceItems(id('bsub'), items(1))).toBeNull();
      await billing.cancelSubscription(sub.id, false);
      expect(await billing.replaceItems(sub.id, items(1))).toBeNull();
    });

    it('cancels at period end (status kept, canceledAt set) or now (CANCELED); cancelling twice answers null', async () => {
      const later = await subscribe(await newCustomer('Leaver later'));
      const scheduled = await billing.cancelSubscription(later.id, true);
      expect(scheduled?.status).toBe('ACTIVE');
      expect(scheduled?.canceledAt).toBeTruthy();
      const now = await subscribe(await newCustomer('Leaver now'));
      expect((await billing.cancelSubscription(now.id, false))?.status).toBe('CANCELED');
      expect(await billing.cancelSubscription(now.id, false)).toBeNull();
      expect(await billing.cancelSubscription(id('bsub'), false)).toBeNull();
    });

    it('links ERP invoices to a subscription period (idempotently) and pages through the linked ids', async () => {
      const sub = await subscribe(await newCustomer('Invoiced'));
      const invoiceIds = [id('inv'), id('inv'), id('inv')].sort();
      for (const invoiceId of invoiceIds) await billing.linkInvoice(invoiceId, sub.id, sub.currentPeriodStart, sub.currentPeriodEnd);
      await billing.linkInvoice(invoiceIds[0] ?? '', sub.id, sub.currentPeriodStart, sub.currentPeriodEnd);
      const linked = await billing.invoicesByIds([...invoiceIds, id('inv')]);
      expect(linked.map((i) => i.id).sort()).toEqual(invoiceIds);
      expect(linked.every((i) => i.subscriptionId === sub.id)).toBe(true);
      // Paging after the id just before ours, two at a time: each linked id exactly once, in order.
      const seen: string[] = [];
      let after: string | null = `inv_${run}`;
      for (;;) {
        const page: string[] = await billing.linkedInvoiceIds(after, 2);
        seen.push(...page.filter((x) => x.startsWith(`inv_${run}_`)));
        if (page.length < 2) break;
        after = page[page.length - 1] ?? null;
      }
      expect(seen).toEqual(invoiceIds);
    });

    it('issues an invoice, takes partial payments until PAID, and refuses overpayment and issuing for a canceled subscription', async () => {
      const sub = await subscribe(await newCustomer('Payer'));
      const invoice = await billing.issueInvoice(sub.id, '10000');
      expect(invoice).toMatchObject({ subscriptionId: sub.id, status: 'ISSUED', amount: { amountMinor: '10000', currency: 'EUR' } });
      const invoiceId = invoice?.id ?? '';
      const part = await billing.recordInvoicePayment(invoiceId, '4000');
      expect(part?.invoice).toMatchObject({ status: 'ISSUED', amountPaid: { amountMinor: '4000', currency: 'EUR' } });
      expect(await rule(billing.recordInvoicePayment(invoiceId, '6001'))).toBe('BILLING.OVERPAYMENT');
      const rest = await billing.recordInvoicePayment(invoiceId, '6000');
      expect(rest?.invoice.status).toBe('PAID');
      expect(rest?.payment.id).not.toBe(part?.payment.id);
      expect((await billing.billingPaymentsByIds([part?.payment.id ?? '', rest?.payment.id ?? ''])).map((p) => p.amount.amountMinor).sort()).toEqual(['4000', '6000']);
      expect(await rule(billing.recordInvoicePayment(invoiceId, '1'))).toBe('BILLING.INVOICE_NOT_OPEN');
      expect(await billing.recordInvoicePayment(id('inv'), '1')).toBeNull();
      await billing.cancelSubscription(sub.id, false);
      expect(await rule(billing.issueInvoice(sub.id, '100'))).toBe('BILLING.SUBSCRIPTION_CANCELED');
      expect(await billing.issueInvoice(id('bsub'), '100')).toBeNull();
    });
  });
}
