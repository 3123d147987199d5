import { createHash } from 'node:crypto';
import type Stripe from 'stripe';
import type { Outbound } from '../../../../lib/connectors/outbound';
import { PermanentError, TransientError } from '../../../../lib/connectors/errors';
import type { Money } from '../../../../lib/money';
import {
  type BillingRemote, CANONICAL_ID_METADATA_KEY, PLAN_CODE_METADATA_KEY, type RemotePage, type RemotePageRequest, type RemotePrice,
  type RemoteSubscription,
} from '../remote-port';
import { type StripeClientOptions, stripeClient } from './client';
import { mapStripeError } from './errors';
import { productIdOf, toRemoteCustomer, toRemoteInvoice, toRemoteInvoicePayment, toRemotePrice, toRemoteSubscription } from './mapping';

export interface StripeBillingOptions extends StripeClientOptions {
  /** The connection's policies (timeout, breaker, rate limit); every SDK call goes through it. */
  outbound: Outbound;
  /** How long a product's plan code is trusted before it is read again. @default 300000 (5 minutes) */
  planCodeTtlMs?: number;
}

type WithResponse = { lastResponse?: { headers: Record<string, string> } };

/**
 * The Stripe adapter of the remote billing port, on the official SDK. Every call goes through the connection's
 * Outbound and comes back with Stripe's errors mapped (see `./errors`); every POST carries an Idempotency-Key derived
 * from our write's key. Writes that read first (cancel, replace items, finalize, pay) skip the write when the record
 * is already as asked, so a retry after a lost answer neither fails nor writes twice.
 */
export function stripeBillingRemote(options: StripeBillingOptions): BillingRemote {
  const stripe = stripeClient(options);
  const ttl = options.planCodeTtlMs ?? 300_000;
  /** Product id -> its plan code, as a promise so concurrent reads of one product share one request. */
  const planCodes = new Map<string, { code: Promise<string | null>; at: number }>();

  const call = <T>(operation: string, fn: (s: Stripe) => Promise<T>): Promise<T> =>
    options.outbound.call(operation, async (signal) => {
      try {
        return await abortable(signal, fn(stripe));
      } catch (err) {
        throw mapStripeError(err);
      }
    });

  /** A read that answers null when Stripe has no such object. */
  const find = async <T>(operation: string, fn: (s: Stripe) => Promise<T>): Promise<T | null> => {
    try {
      return await call(operation, fn);
    } catch (err) {
      if (err instanceof PermanentError && err.code === 'resource_missing') return null;
      throw err;
    }
  };

  /** Plan codes of these prices' products (from the products' metadata), read once per TTL. */
  const codesOf = async (prices: readonly Stripe.Price[]): Promise<Map<string, string | null>> => {
    const now = Date.now();
    const ids = [...new Set(prices.map(productIdOf))];
    for (const id of ids) {
      if ((planCodes.get(id)?.at ?? -Infinity) + ttl >= now) continue;
      const code = find('products.retrieve', (s) => s.products.retrieve(id)).then((p) => p?.metadata[PLAN_CODE_METADATA_KEY] ?? null);
      // A failed read is not cached: the next call asks again.
      code.catch(() => planCodes.get(id)?.code === code && planCodes.delete(id));
      planCodes.set(id, { code, at: now });
    }
    return new Map(await Promise.all(ids.map(async (id) => [id, (await planCodes.get(id)?.code) ?? null] as const)));
  };

  const subscriptionOut = async (s: Stripe.Subscription & WithResponse, observedAt = observed(s)): Promise<RemoteSubscription> =>
    toRemoteSubscription(s, observedAt, await codesOf(s.items.data.map((i) => i.price)));

  const priceOut = async (p: Stripe.Price, observedAt: string): Promise<RemotePrice> => toRemotePrice(p, observedAt, await codesOf([p]));

  const page = async <S extends { id: string }, R>(
    list: Stripe.ApiList<S> & WithResponse, map: (items: S[], observedAt: string) => Promise<R[]> | R[],
  ): Promise<RemotePage<R>> => {
    const last = list.data[list.data.length - 1];
    return { items: await map(list.data, observed(list)), hasMore: list.has_more, nextCursor: list.has_more && last ? last.id : null };
  };
  const cursor = (p: RemotePageRequest) => ({ limit: p.limit, ...(p.startingAfter ? { starting_after: p.startingAfter } : {}) });

  const retrieveSubscription = (id: string) => find('subscriptions.retrieve', (s) => s.subscriptions.retrieve(id));
  const retrieveInvoice = (id: string) => find('invoices.retrieve', (s) => s.invoices.retrieve(id));
  const mustExist = <T>(kind: string, id: string, value: T | null): T => {
    if (value === null) throw new PermanentError('resource_missing', `Stripe: no such ${kind}: '${id}'`);
    return value;
  };

  const remote: BillingRemote = {
    vendor: 'stripe',

    async checkAccess() {
      const account = await call('accounts.retrieve', (s) => s.accounts.retrieveCurrent());
      return { accountId: account.id };
    },

    async upsertCustomer(input, { idempotencyKey }) {
      const params = { name: input.name, metadata: { [CANONICAL_ID_METADATA_KEY]: input.id } };
      const { remoteId } = input;
      const c = remoteId
        ? await call('customers.update', (s) => s.customers.update(remoteId, params, idem(idempotencyKey)))
        : await call('customers.create', (s) => s.customers.create(params, idem(idempotencyKey)));
      return toRemoteCustomer(c, observed(c));
    },

    async createPlan(input, { idempotencyKey }) {
      const product = await call('products.create', (s) => s.products.create({
        name: input.name, metadata: { [CANONICAL_ID_METADATA_KEY]: input.canonicalId, [PLAN_CODE_METADATA_KEY]: input.code },
      }, idem(idempotencyKey, 'product')));
      planCodes.set(product.id, { code: Promise.resolve(input.code), at: Date.now() });
      const prices = [];
      for (const [n, p] of input.prices.entries()) {
        const price = await call('prices.create', (s) => s.prices.create({
          product: product.id, currency: p.unitAmount.currency.toLowerCase(), unit_amount: amountOf(p.unitAmount, p.unitAmount.currency),
          recurring: { interval: p.interval === 'MONTH' ? 'month' : 'year' }, metadata: { [CANONICAL_ID_METADATA_KEY]: p.canonicalId },
        }, idem(idempotencyKey, `price:${n}`)));
        prices.push(await priceOut(price, observed(price)));
      }
      return {
        remoteId: product.id, canonicalId: input.canonicalId, remoteUpdatedAt: observed(product), remoteData: product,
        code: input.code, name: product.name, active: product.active, prices,
      };
    },

    async createSubscription(input, { idempotencyKey }) {
      const sub = await call('subscriptions.create', (s) => s.subscriptions.create({
        customer: input.customerRemoteId,
        items: input.items.map((i) => ({ price: i.priceRemoteId, quantity: i.quantity })),
        // Billed by invoice: no card is needed for the subscription to be active.
        collection_method: 'send_invoice', days_until_due: input.daysUntilDue,
        ...(input.trialDays > 0 ? { trial_period_days: input.trialDays } : {}),
        metadata: { [CANONICAL_ID_METADATA_KEY]: input.canonicalId },
      }, idem(idempotencyKey)));
      return subscriptionOut(sub);
    },

    async replaceSubscriptionItems(remoteId, items, { idempotencyKey }) {
      const current = mustExist('subscription', remoteId, await retrieveSubscription(remoteId));
      if (current.status === 'canceled') throw new PermanentError('SUBSCRIPTION_CANCELED', `Stripe subscription ${remoteId} is canceled`);
      const have = current.items.data.map((i) => `${i.price.id}x${i.quantity ?? 1}`).sort().join();
      const want = items.map((i) => `${i.priceRemoteId}x${i.quantity}`).sort().join();
      if (have === want) return subscriptionOut(current);
      const sub = await call('subscriptions.update', (s) => s.subscriptions.update(remoteId, {
        items: [
          ...current.items.data.map((i) => ({ id: i.id, deleted: true })),
          ...items.map((i) => ({ price: i.priceRemoteId, quantity: i.quantity })),
        ],
        proration_behavior: 'none',
      }, idem(idempotencyKey)));
      return subscriptionOut(sub);
    },

    async cancelSubscription(remoteId, atPeriodEnd, { idempotencyKey }) {
      const current = mustExist('subscription', remoteId, await retrieveSubscription(remoteId));
      if (current.status === 'canceled' || (atPeriodEnd && current.cancel_at_period_end)) return subscriptionOut(current);
      if (atPeriodEnd) {
        return subscriptionOut(await call('subscriptions.update', (s) => s.subscriptions.update(remoteId, { cancel_at_period_end: true }, idem(idempotencyKey))));
      }
      // DELETE takes no Idempotency-Key at Stripe; a repeat is caught by the read above.
      return subscriptionOut(await call('subscriptions.cancel', (s) => s.subscriptions.cancel(remoteId)));
    },

    async createInvoice(input, { idempotencyKey }) {
      if (input.lines.length === 0) throw new PermanentError('INVOICE_WITHOUT_LINES', 'An invoice needs at least one line');
      const currency = input.currency.toLowerCase();
      const draft = await call('invoices.create', (s) => s.invoices.create({
        customer: input.customerRemoteId, ...(input.subscriptionRemoteId ? { subscription: input.subscriptionRemoteId } : {}),
        currency, collection_method: 'send_invoice', days_until_due: input.daysUntilDue, auto_advance: false,
        // Only our lines: pending items of the customer are not swept into our invoice.
        pending_invoice_items_behavior: 'exclude', metadata: { [CANONICAL_ID_METADATA_KEY]: input.canonicalId },
      }, idem(idempotencyKey, 'invoice')));
      for (const [n, line] of input.lines.entries()) {
        await call('invoiceItems.create', (s) => s.invoiceItems.create({
          customer: input.customerRemoteId, invoice: draft.id, amount: amountOf(line.amount, input.currency), currency, description: line.description,
        }, idem(idempotencyKey, `line:${n}`)));
      }
      const invoice = mustExist('invoice', draft.id, await retrieveInvoice(draft.id));
      return toRemoteInvoice(invoice, observed(invoice));
    },

    async finalizeInvoice(remoteId, { idempotencyKey }) {
      const current = mustExist('invoice', remoteId, await retrieveInvoice(remoteId));
      if (current.status !== 'draft') return toRemoteInvoice(current, observed(current));
      const invoice = await call('invoices.finalize', (s) => s.invoices.finalizeInvoice(remoteId, { auto_advance: false }, idem(idempotencyKey)));
      return toRemoteInvoice(invoice, observed(invoice));
    },

    async markInvoicePaid(remoteId, { idempotencyKey }) {
      const current = mustExist('invoice', remoteId, await retrieveInvoice(remoteId));
      if (current.status === 'paid') return toRemoteInvoice(current, observed(current));
      const invoice = await call('invoices.pay', (s) => s.invoices.pay(remoteId, { paid_out_of_band: true }, idem(idempotencyKey)));
      return toRemoteInvoice(invoice, observed(invoice));
    },

    async retrieveCustomer(remoteId) {
      const c = await find('customers.retrieve', (s) => s.customers.retrieve(remoteId));
      return c && !c.deleted ? toRemoteCustomer(c, observed(c)) : null;
    },
    async retrieveSubscription(remoteId) {
      const sub = await retrieveSubscription(remoteId);
      return sub && subscriptionOut(sub);
    },
    async retrieveInvoice(remoteId) {
      const invoice = await retrieveInvoice(remoteId);
      return invoice && toRemoteInvoice(invoice, observed(invoice));
    },
    async listInvoicePayments(invoiceRemoteId) {
      const payments: Stripe.InvoicePayment[] = [];
      let startingAfter: string | null = null;
      do {
        const list: Stripe.ApiList<Stripe.InvoicePayment> = await call('invoicePayments.list', (s) =>
          s.invoicePayments.list({ invoice: invoiceRemoteId, ...cursor({ limit: 100, startingAfter }) }));
        payments.push(...list.data);
        startingAfter = list.has_more ? (list.data[list.data.length - 1]?.id ?? null) : null;
      } while (startingAfter);
      // Stripe lists newest first; payments are applied in the order they were made.
      return payments.reverse().map(toRemoteInvoicePayment);
    },
    async retrievePrice(remoteId) {
      const price = await find('prices.retrieve', (s) => s.prices.retrieve(remoteId));
      return price && priceOut(price, observed(price));
    },

    async listCustomers(p) {
      return page(await call('customers.list', (s) => s.customers.list(cursor(p))), (items, at) => items.map((c) => toRemoteCustomer(c, at)));
    },
    async listSubscriptions(p) {
      const list = await call('subscriptions.list', (s) => s.subscriptions.list({
        ...cursor(p), status: 'all', ...(p.customerRemoteId ? { customer: p.customerRemoteId } : {}),
      }));
      return page(list, (items, at) => Promise.all(items.map((sub) => subscriptionOut(sub, at))));
    },
    async listInvoices(p) {
      const list = await call('invoices.list', (s) => s.invoices.list({
        ...cursor(p), ...(p.customerRemoteId ? { customer: p.customerRemoteId } : {}), ...(p.subscriptionRemoteId ? { subscription: p.subscriptionRemoteId } : {}),
      }));
      return page(list, (items, at) => items.map((i) => toRemoteInvoice(i, at)));
    },
    async listPrices(p) {
      const list = await call('prices.list', (s) => s.prices.list(cursor(p)));
      const codes = await codesOf(list.data);
      return page(list, (items, at) => items.map((price) => toRemotePrice(price, at, codes)));
    },
  };
  return remote;
}

/**
 * Stripe's Idempotency-Key for one call of a write: our key, plus the step for writes made of several calls. Keys
 * longer than Stripe's 255 characters are hashed (same input, same key).
 */
export function idem(key: string, step?: string): { idempotencyKey: string } {
  const full = step ? `${key}:${step}` : key;
  return { idempotencyKey: full.length <= 255 ? full : `sha256:${createHash('sha256').update(full).digest('hex')}` };
}

/** Minor units as Stripe's integer amount; amounts beyond a safe integer or in another currency are refused. */
function amountOf(m: Money, currency: string): number {
  if (m.currency.toUpperCase() !== currency.toUpperCase()) throw new PermanentError('CURRENCY_MISMATCH', `An amount in ${m.currency} on a ${currency} document`);
  const n = Number(m.amountMinor);
  if (!Number.isSafeInteger(n) || n < 0) throw new PermanentError('AMOUNT_INVALID', `Amount ${m.amountMinor} is not a non-negative integer Stripe can take`);
  return n;
}

/** The time Stripe answered (its Date header), else now: what `remoteUpdatedAt` means for Stripe records. */
function observed(response: WithResponse): string {
  const date = response.lastResponse?.headers['date'];
  const at = date ? Date.parse(date) : NaN;
  return new Date(Number.isNaN(at) ? Date.now() : at).toISOString();
}

/** The SDK takes no AbortSignal: when the Outbound's time is up, stop waiting (the SDK's own timeout ends the socket). */
function abortable<T>(signal: AbortSignal, work: Promise<T>): Promise<T> {
  const timeUp = () => new TransientError('TIMEOUT', 'Stripe call aborted: its time was up');
  if (signal.aborted) return Promise.reject(timeUp());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(timeUp());
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
