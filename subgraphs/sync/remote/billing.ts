import { createHash } from 'node:crypto';
import type { Money } from '../../../lib/money';
import type { SubscriptionChange } from '../../billing/connector/invoicing';
import type { BillingConnector } from '../../billing/connector/port';
import type { BillingRemote, RemoteInvoice } from '../../billing/connector/remote-port';
import { PermanentError, TransientError } from '../engine/errors';
import type { RemoteLinks } from './links';

/** Writes to a remote billing system that have no counterpart in `BillingConnector` (the mirror has no invoices of its own for them). */
export interface RemoteBillingPush {
  /** Raises and issues the vendor invoice for one of our (ERP) invoices; idempotent by the invoice id. */
  raiseInvoice(input: {
    invoiceId: string;
    accountId: string;
    subscriptionId: string | null;
    currency: string;
    daysUntilDue: number;
    lines: readonly { description: string; amount: Money }[];
  }): Promise<RemoteInvoice>;
  /**
   * Makes the vendor's subscription match the mirror's current state (created, items, cancellation): what a write
   * through the billing API becomes for a remote tenant. Only the job of the `CREATED` write creates the vendor
   * subscription; a later write that finds none yet fails transiently until that job has run, so concurrent jobs never
   * create two. Every POST's Idempotency-Key starts with `keyBase` (derived from the job id), so a retried or
   * re-claimed job replays its own vendor writes instead of repeating them. Returns what was done.
   */
  syncSubscription(subscriptionId: string, change: SubscriptionChange, keyBase: string): Promise<string>;
  /**
   * An invoice our billing API issued, raised at the vendor: linked to the vendor's own invoice of the subscription when
   * it billed that period already (same amount, not linked to another of ours), created and finalized otherwise.
   */
  pushIssuedInvoice(invoiceId: string): Promise<string>;
  /**
   * A payment our billing API recorded: once the invoice is paid in full, the vendor's invoice is marked paid out of
   * band (the vendor settles an invoice whole, so a partial payment waits for the rest). The settlement is recorded
   * before the vendor call, so the vendor's payment webhooks for it are not applied to the ERP a second time.
   */
  pushPayment(paymentId: string, invoiceId: string, keyBase: string): Promise<string>;
}

const digest = (inputs: unknown): string => createHash('sha256').update(JSON.stringify(inputs)).digest('hex').slice(0, 16);

/** A deterministic idempotency key: same record and same inputs -> same key (a changed input is a new write). */
function key(kind: string, canonicalId: string, ...inputs: readonly unknown[]): string {
  return `sor:${kind}:${canonicalId}${inputs.length ? `:${digest(inputs)}` : ''}`;
}

/**
 * The billing port of a tenant whose billing system is remote, as the sync engine uses it inside jobs: reads come
 * from the local mirror (the reference tables: fast, tenant-scoped), writes go to the vendor first with deterministic
 * idempotency keys, then to the mirror, and the vendor ids are linked (`sync.remote_links`). A job that crashes between
 * the vendor's answer and the link retries with the same key and gets the same vendor record back.
 */
export function remoteBilling(
  mirror: BillingConnector,
  remote: BillingRemote,
  links: RemoteLinks,
  /** Told when an account's customer exists at the vendor: the vendor id becomes the account's BILLING external id. */
  customerLinked: (accountId: string, ref: { remoteId: string; updatedAt: string }) => Promise<void>,
): { billing: BillingConnector; push: RemoteBillingPush } {
  const ensureCustomer = async (accountId: string, currency: string): Promise<string> => {
    const known = await links.remoteId('Customer', accountId);
    if (known) return known;
    const [local] = await mirror.customersByIds([accountId]);
    const name = local?.name ?? accountId;
    const created = await remote.upsertCustomer({ id: accountId, name, currency, remoteId: null }, { idempotencyKey: key('customer', accountId, name, currency, null) });
    await links.record('Customer', accountId, created.remoteId, created.remoteUpdatedAt);
    await customerLinked(accountId, { remoteId: created.remoteId, updatedAt: created.remoteUpdatedAt });
    return created.remoteId;
  };

  /** The vendor price of one of our prices, creating the plan (all its prices) at the vendor the first time. */
  const ensurePrice = async (planId: string, priceId: string): Promise<string> => {
    const known = await links.remoteId('Price', priceId);
    if (known) return known;
    const [plan] = await mirror.plansByIds([planId]);
    if (!plan) throw new PermanentError('PLAN_NOT_FOUND', `Plan "${planId}" does not exist`);
    const created = await remote.createPlan(
      { canonicalId: plan.id, code: plan.code, name: plan.name, prices: plan.prices.map((p) => ({ canonicalId: p.id, unitAmount: p.unitAmount, interval: p.interval })) },
      { idempotencyKey: key('plan', plan.id) },
    );
    await links.record('Plan', plan.id, created.remoteId, created.remoteUpdatedAt);
    for (const p of created.prices) if (p.canonicalId) await links.record('Price', p.canonicalId, p.remoteId, p.remoteUpdatedAt);
    const linked = await links.remoteId('Price', priceId);
    if (!linked) throw new PermanentError('PRICE_NOT_CREATED', `The vendor did not return price "${priceId}" of plan "${plan.code}"`);
    return linked;
  };

  const live = async (id: string): Promise<boolean> => {
    const [sub] = await mirror.subscriptionsByIds([id]);
    return sub !== undefined && sub.status !== 'CANCELED';
  };

  const billing: BillingConnector = {
    ...mirror,
    async upsertCustomer(input) {
      const remoteId = await links.remoteId('Customer', input.id);
      const at = await remote.upsertCustomer({ ...input, remoteId }, { idempotencyKey: key('customer', input.id, input.name, input.currency, remoteId) });
      await links.record('Customer', input.id, at.remoteId, at.remoteUpdatedAt);
      await mirror.upsertCustomer(input);
      return { remoteId: at.remoteId, updatedAt: at.remoteUpdatedAt };
    },
    async createSubscription(input) {
      if (!input.id) throw new PermanentError('SUBSCRIPTION_ID_REQUIRED', 'A remote subscription needs our id first (its idempotency key)');
      const id = input.id;
      if (!(await links.remoteId('BillingSubscription', id))) {
        const customerRemoteId = await ensureCustomer(input.accountId, input.currency);
        const items = [];
        for (const item of input.items) items.push({ priceRemoteId: await ensurePrice(item.planId, item.priceId), quantity: item.quantity });
        const sub = await remote.createSubscription(
          { canonicalId: id, customerRemoteId, items, trialDays: input.trialDays, daysUntilDue: 30 },
          { idempotencyKey: key('subscription', id) },
        );
        await links.record('BillingSubscription', id, sub.remoteId, sub.remoteUpdatedAt);
      }
      return mirror.createSubscription(input);
    },
    async cancelSubscription(id, atPeriodEnd) {
      // The port's answer for a subscription that is gone or CANCELED is null, whatever the vendor would say.
      if (!(await live(id))) return null;
      const remoteId = await links.remoteId('BillingSubscription', id);
      if (remoteId) await remote.cancelSubscription(remoteId, atPeriodEnd, { idempotencyKey: key('cancel', id, atPeriodEnd) });
      return mirror.cancelSubscription(id, atPeriodEnd);
    },
    async replaceItems(id, items) {
      if (!(await live(id))) return null;
      const remoteId = await links.remoteId('BillingSubscription', id);
      if (remoteId) {
        const remoteItems = [];
        for (const item of items) remoteItems.push({ priceRemoteId: await ensurePrice(item.planId, item.priceId), quantity: item.quantity });
        await remote.replaceSubscriptionItems(remoteId, remoteItems, { idempotencyKey: key('items', id, remoteItems) });
      }
      return mirror.replaceItems(id, items);
    },
  };

  /** The vendor's invoice for one of our issued invoices, when it raised one for that subscription already. */
  const vendorsOwnInvoice = async (subscriptionRemoteId: string | null, total: Money): Promise<RemoteInvoice | null> => {
    if (!subscriptionRemoteId) return null;
    const page = await remote.listInvoices({ subscriptionRemoteId, limit: 10 });
    for (const candidate of page.items) {
      if (candidate.status === 'VOID' || candidate.canonicalId) continue;
      if (candidate.total.amountMinor !== total.amountMinor || candidate.total.currency !== total.currency) continue;
      if (!(await links.canonicalId('Invoice', candidate.remoteId))) return candidate;
    }
    return null;
  };

  const push: RemoteBillingPush = {
    async syncSubscription(id, change, keyBase) {
      const [sub] = await mirror.subscriptionsByIds([id]);
      if (!sub) throw new PermanentError('SUBSCRIPTION_NOT_FOUND', `BillingSubscription "${id}" does not exist`);
      const items = [];
      for (const item of sub.items) items.push({ priceRemoteId: await ensurePrice(item.planId, item.price.id), quantity: item.quantity });
      let remoteId = await links.remoteId('BillingSubscription', id);
      const done: string[] = [];
      if (!remoteId) {
        if (change !== 'CREATED') throw new TransientError('REMOTE_NOT_CREATED_YET', `BillingSubscription "${id}" is not at the vendor yet; its create job pushes it first`);
        const customerRemoteId = await ensureCustomer(sub.accountId, sub.currency);
        const trialDays = sub.trialEnd ? Math.max(0, Math.round((Date.parse(sub.trialEnd) - Date.parse(sub.currentPeriodStart)) / 86_400_000)) : 0;
        const created = await remote.createSubscription(
          { canonicalId: id, customerRemoteId, items, trialDays, daysUntilDue: 30 },
          { idempotencyKey: `${keyBase}:subscription` },
        );
        await links.record('BillingSubscription', id, created.remoteId, created.remoteUpdatedAt);
        remoteId = created.remoteId;
        done.push(`created ${remoteId}`);
      } else if (sub.status !== 'CANCELED') {
        // The adapter reads first and writes nothing when the vendor already has these items.
        await remote.replaceSubscriptionItems(remoteId, items, { idempotencyKey: `${keyBase}:items:${digest(items)}` });
        done.push(`items of ${remoteId} match`);
      }
      if (sub.status === 'CANCELED' || sub.canceledAt) {
        const atPeriodEnd = sub.status !== 'CANCELED';
        await remote.cancelSubscription(remoteId, atPeriodEnd, { idempotencyKey: `${keyBase}:cancel:${atPeriodEnd}` });
        done.push(`${remoteId} canceled${atPeriodEnd ? ' at period end' : ''}`);
      }
      return done.join('; ');
    },
    async pushIssuedInvoice(invoiceId) {
      const [invoice] = await mirror.issuedInvoicesByIds([invoiceId]);
      if (!invoice) throw new PermanentError('INVOICE_NOT_FOUND', `Billing invoice "${invoiceId}" does not exist`);
      if (!(await links.remoteId('Invoice', invoiceId))) {
        const subscriptionRemoteId = await links.remoteId('BillingSubscription', invoice.subscriptionId);
        const own = await vendorsOwnInvoice(subscriptionRemoteId, invoice.amount);
        if (own) {
          await links.record('Invoice', invoiceId, own.remoteId, own.remoteUpdatedAt);
          return `linked to the vendor's own invoice ${own.remoteId} of the period`;
        }
      }
      const raised = await push.raiseInvoice({
        invoiceId, accountId: invoice.accountId, subscriptionId: null, currency: invoice.amount.currency, daysUntilDue: 30,
        lines: [{ description: `Subscription ${invoice.subscriptionId} ${invoice.periodStart} to ${invoice.periodEnd}`, amount: invoice.amount }],
      });
      return `raised ${raised.remoteId} (${raised.status})`;
    },
    async pushPayment(paymentId, invoiceId, keyBase) {
      const [invoice] = await mirror.issuedInvoicesByIds([invoiceId]);
      if (!invoice) throw new PermanentError('INVOICE_NOT_FOUND', `Billing invoice "${invoiceId}" does not exist`);
      if (invoice.status !== 'PAID') return `payment ${paymentId} is partial (${invoice.amountPaid.amountMinor} of ${invoice.amount.amountMinor}): the vendor settles the invoice when it is paid in full`;
      const remoteId = await links.remoteId('Invoice', invoiceId);
      if (!remoteId) throw new TransientError('REMOTE_NOT_CREATED_YET', `Invoice "${invoiceId}" is not at the vendor yet; its issue job pushes it first`);
      const current = await remote.retrieveInvoice(remoteId);
      if (!current) throw new PermanentError('REMOTE_INVOICE_GONE', `The vendor invoice of "${invoiceId}" no longer exists`);
      if (current.status === 'PAID') return `${remoteId} is paid at the vendor already`;
      await links.record('InvoiceSettlement', invoiceId, remoteId, null);
      const paid = await remote.markInvoicePaid(remoteId, { idempotencyKey: `${keyBase}:paid` });
      return `${remoteId} marked paid out of band (${paid.status})`;
    },
    async raiseInvoice(input) {
      const known = await links.remoteId('Invoice', input.invoiceId);
      if (known) {
        const linked = await remote.retrieveInvoice(known);
        if (!linked) throw new PermanentError('REMOTE_INVOICE_GONE', `The vendor invoice of "${input.invoiceId}" no longer exists`);
        return linked.status === 'DRAFT' ? remote.finalizeInvoice(linked.remoteId, { idempotencyKey: key('finalize', input.invoiceId) }) : linked;
      }
      // A vendor that bills subscriptions itself (Stripe raises the first period's invoice when the subscription
      // starts) already has the invoice: link ours to it instead of billing the customer twice.
      const subscriptionRemoteId = input.subscriptionId ? await links.remoteId('BillingSubscription', input.subscriptionId) : null;
      if (subscriptionRemoteId) {
        const page = await remote.listInvoices({ subscriptionRemoteId, limit: 10 });
        const own = page.items.find((i) => i.status !== 'VOID');
        if (own) {
          await links.record('Invoice', input.invoiceId, own.remoteId, own.remoteUpdatedAt);
          return own.status === 'DRAFT' ? remote.finalizeInvoice(own.remoteId, { idempotencyKey: key('finalize', input.invoiceId) }) : own;
        }
      }
      const customerRemoteId = await ensureCustomer(input.accountId, input.currency);
      const draft = await remote.createInvoice(
        { canonicalId: input.invoiceId, customerRemoteId, subscriptionRemoteId, currency: input.currency, daysUntilDue: input.daysUntilDue, lines: input.lines },
        { idempotencyKey: key('invoice', input.invoiceId) },
      );
      await links.record('Invoice', input.invoiceId, draft.remoteId, draft.remoteUpdatedAt);
      return draft.status === 'DRAFT' ? remote.finalizeInvoice(draft.remoteId, { idempotencyKey: key('finalize', input.invoiceId) }) : draft;
    },
  };
  return { billing, push };
}
