import type Stripe from 'stripe';
import * as build from './objects';
import { type Params, StripeWireError, invalid, mergeMetadata, missing, newId, unixNow } from './wire';

/** An event's type with the data that type carries (distributed over the union, so the pair is checked). */
type EventDraft = Stripe.Event extends infer E ? (E extends Stripe.Event ? Pick<E, 'type' | 'data'> : never) : never;

/** The context a write runs in: its idempotency key ends up in `event.request`, as Stripe does. */
export interface WriteContext {
  requestId: string;
  idempotencyKey: string | null;
}

/**
 * One Stripe account's objects (a secret key belongs to one account), with Stripe's rules for the operations we use.
 * Every change appends an event (also listed by `GET /v1/events`) and hands it to `onEvent` for webhook delivery.
 * Objects are replaced, never mutated in place, so an event's snapshot stays as it was.
 */
export class AccountStore {
  readonly customers = new Map<string, Stripe.Customer>();
  readonly deletedCustomers = new Set<string>();
  readonly products = new Map<string, Stripe.Product>();
  readonly prices = new Map<string, Stripe.Price>();
  readonly subscriptions = new Map<string, Stripe.Subscription>();
  readonly invoices = new Map<string, Stripe.Invoice>();
  readonly invoiceItems = new Map<string, build.WireInvoiceItem>();
  readonly invoicePayments = new Map<string, Stripe.InvoicePayment>();
  readonly events: Stripe.Event[] = [];
  /** Payment terms of send_invoice invoices: the due date is set from them when the invoice is finalized. */
  private readonly daysUntilDue = new Map<string, number>();
  private invoiceSequence = 0;

  constructor(readonly id: string, private readonly apiVersion: string, private readonly onEvent: (event: Stripe.Event) => void) {}

  // ---- events

  private emit(ctx: WriteContext | null, draft: EventDraft): void {
    // A snapshot: later replacements of the object must not change what this event says.
    const event = structuredClone({
      ...draft,
      id: newId('evt'), object: 'event', api_version: this.apiVersion, created: unixNow(), livemode: false, pending_webhooks: 1,
      request: { id: ctx?.requestId ?? null, idempotency_key: ctx?.idempotencyKey ?? null },
    }) as Stripe.Event; // the spread keeps the draft's type/data pairing, which the union cannot follow through a spread
    this.events.unshift(event);
    this.onEvent(event);
  }

  // ---- customers

  createCustomer(ctx: WriteContext, p: Params): Stripe.Customer {
    const c = build.customer({ name: p.str('name') ?? null, email: p.str('email') ?? null, description: p.str('description') ?? null, metadata: mergeMetadata({}, p.metadata()) });
    this.customers.set(c.id, c);
    this.emit(ctx, { type: 'customer.created', data: { object: c } });
    return c;
  }

  customer(id: string): Stripe.Customer {
    return found(this.customers, 'customer', id);
  }

  updateCustomer(ctx: WriteContext, id: string, p: Params): Stripe.Customer {
    const before = this.customer(id);
    const after: Stripe.Customer = {
      ...before,
      name: p.str('name') ?? before.name ?? null, email: p.str('email') ?? before.email, description: p.str('description') ?? before.description,
      metadata: mergeMetadata(before.metadata, p.metadata()),
    };
    this.customers.set(id, after);
    this.emit(ctx, { type: 'customer.updated', data: { object: after, previous_attributes: changed(before, after) } });
    return after;
  }

  deleteCustomer(ctx: WriteContext, id: string): Stripe.DeletedCustomer {
    const c = this.customer(id);
    for (const s of this.subscriptions.values()) if (s.customer === id && s.status !== 'canceled') this.cancelSubscription(ctx, s.id);
    this.customers.delete(id);
    this.deletedCustomers.add(id);
    this.emit(ctx, { type: 'customer.deleted', data: { object: c } });
    return { id, object: 'customer', deleted: true };
  }

  // ---- catalogue

  createProduct(ctx: WriteContext, p: Params): Stripe.Product {
    const id = p.str('id');
    if (id && this.products.has(id)) throw invalid(`Product already exists.`, 'id', 'resource_already_exists');
    const pr = build.product({ id, name: p.required('name'), active: p.bool('active') ?? true, description: p.str('description') ?? null, metadata: mergeMetadata({}, p.metadata()) });
    this.products.set(pr.id, pr);
    this.emit(ctx, { type: 'product.created', data: { object: pr } });
    return pr;
  }

  product(id: string): Stripe.Product {
    return found(this.products, 'product', id);
  }

  createPrice(ctx: WriteContext, p: Params): Stripe.Price {
    const productId = p.required('product');
    this.product(productId);
    const unitAmount = p.int('unit_amount');
    if (unitAmount === undefined || unitAmount < 0) throw invalid('Missing required param: unit_amount.', 'unit_amount', 'parameter_missing');
    const interval = recurringInterval(p);
    const pr = build.price({
      product: productId, currency: p.required('currency').toLowerCase(), unitAmount, interval, active: p.bool('active') ?? true,
      metadata: mergeMetadata({}, p.metadata()), nickname: p.str('nickname') ?? null, lookupKey: p.str('lookup_key') ?? null,
    });
    this.prices.set(pr.id, pr);
    this.emit(ctx, { type: 'price.created', data: { object: pr } });
    return pr;
  }

  price(id: string): Stripe.Price {
    return found(this.prices, 'price', id);
  }

  // ---- subscriptions

  createSubscription(ctx: WriteContext, p: Params): Stripe.Subscription {
    const cus = this.customer(p.required('customer'));
    const items = p.list('items') ?? [];
    if (items.length === 0) throw invalid('Missing required param: items.', 'items', 'parameter_missing');
    const prices = items.map((i, n) => ({ price: this.recurringPrice(i.required('price'), `items[${n}][price]`), quantity: i.int('quantity') ?? 1 }));
    const currency = prices[0]?.price.currency ?? 'usd';
    if (prices.some((x) => x.price.currency !== currency)) throw invalid('All prices on a subscription must have the same currency.', 'items');
    if (cus.currency && cus.currency !== currency) throw invalid(`You cannot combine currencies on a single customer. This customer has had a subscription or payment in ${cus.currency}.`, 'items');
    const collectionMethod = p.str('collection_method') ?? 'charge_automatically';
    const daysUntilDue = p.int('days_until_due') ?? null;
    if (collectionMethod === 'send_invoice' && daysUntilDue === null) throw invalid('Missing required param: days_until_due.', 'days_until_due', 'parameter_missing');
    const trialDays = p.int('trial_period_days') ?? 0;
    const start = unixNow();
    const trialEnd = trialDays > 0 ? start + trialDays * 86_400 : null;
    const interval = prices[0]?.price.recurring?.interval ?? 'month';
    const periodEnd = trialEnd ?? addInterval(start, interval);
    const id = newId('sub');
    const sub = build.subscription({
      id, customer: cus.id, currency, collectionMethod, daysUntilDue, status: trialEnd ? 'trialing' : 'active', start, trialEnd,
      metadata: mergeMetadata({}, p.metadata()),
      items: prices.map((x) => build.subscriptionItem({ subscription: id, price: x.price, quantity: x.quantity, periodStart: start, periodEnd })),
    });
    // The customer's currency is fixed by its first subscription, as in Stripe.
    if (!cus.currency) this.customers.set(cus.id, { ...cus, currency });
    this.subscriptions.set(id, sub);
    this.emit(ctx, { type: 'customer.subscription.created', data: { object: sub } });
    // Stripe raises (and finalizes) the first invoice of a subscription at once: the trial's is 0 and paid.
    const first = this.raiseSubscriptionInvoice(ctx, sub, start, periodEnd, trialEnd !== null);
    const withInvoice = { ...sub, latest_invoice: first.id };
    this.subscriptions.set(id, withInvoice);
    return withInvoice;
  }

  subscription(id: string): Stripe.Subscription {
    return found(this.subscriptions, 'subscription', id);
  }

  updateSubscription(ctx: WriteContext, id: string, p: Params): Stripe.Subscription {
    const before = this.subscription(id);
    if (before.status === 'canceled') throw invalid('A canceled subscription can only update its cancellation_details and metadata.', undefined, 'resource_missing');
    let items = before.items.data;
    const [periodStart, periodEnd] = [items[0]?.current_period_start ?? before.start_date, items[0]?.current_period_end ?? before.start_date];
    for (const [n, change] of (p.list('items') ?? []).entries()) {
      const itemId = change.str('id');
      if (itemId) {
        const existing = items.find((i) => i.id === itemId);
        if (!existing) throw missing('subscription item', itemId, `items[${n}][id]`);
        if (change.bool('deleted')) items = items.filter((i) => i.id !== itemId);
        else items = items.map((i) => (i.id === itemId ? { ...i, quantity: change.int('quantity') ?? i.quantity } : i));
      } else {
        const price = this.recurringPrice(change.required('price'), `items[${n}][price]`);
        if (price.currency !== before.currency) throw invalid('All prices on a subscription must have the same currency.', `items[${n}][price]`);
        items = [...items, build.subscriptionItem({ subscription: id, price, quantity: change.int('quantity') ?? 1, periodStart, periodEnd })];
      }
    }
    if (items.length === 0) throw invalid('A subscription must have at least one active plan.', 'items');
    const cancelAtPeriodEnd = p.bool('cancel_at_period_end') ?? before.cancel_at_period_end;
    const after: Stripe.Subscription = {
      ...before,
      items: { ...before.items, data: items }, metadata: mergeMetadata(before.metadata, p.metadata()),
      cancel_at_period_end: cancelAtPeriodEnd, cancel_at: cancelAtPeriodEnd ? periodEnd : null,
      canceled_at: cancelAtPeriodEnd ? (before.canceled_at ?? unixNow()) : null,
    };
    this.subscriptions.set(id, after);
    this.emit(ctx, { type: 'customer.subscription.updated', data: { object: after, previous_attributes: changed(before, after) } });
    return after;
  }

  cancelSubscription(ctx: WriteContext, id: string): Stripe.Subscription {
    const before = this.subscription(id);
    if (before.status === 'canceled') throw invalid(`No such subscription: '${id}'`, 'id', 'resource_missing');
    const now = unixNow();
    const after: Stripe.Subscription = { ...before, status: 'canceled', canceled_at: before.canceled_at ?? now, ended_at: now };
    this.subscriptions.set(id, after);
    this.emit(ctx, { type: 'customer.subscription.deleted', data: { object: after } });
    return after;
  }

  /** Out of band (tests): a subscription whose invoice went unpaid, or one reactivated at the vendor. */
  setSubscriptionStatus(id: string, status: Stripe.Subscription.Status): Stripe.Subscription {
    const before = this.subscription(id);
    const after = { ...before, status };
    this.subscriptions.set(id, after);
    this.emit(null, { type: 'customer.subscription.updated', data: { object: after, previous_attributes: { status: before.status } } });
    return after;
  }

  private recurringPrice(id: string, param: string): Stripe.Price {
    const pr = this.prices.get(id);
    if (!pr) throw missing('price', id, param);
    if (!pr.recurring) throw invalid(`The price specified is set to \`type=one_time\` but this field only accepts prices with \`type=recurring\`.`, param);
    if (!pr.active) throw invalid(`The price specified is inactive. This field only accepts active prices.`, param);
    return pr;
  }

  private raiseSubscriptionInvoice(ctx: WriteContext, sub: Stripe.Subscription, start: number, end: number, trial: boolean): Stripe.Invoice {
    const cus = this.customer(typeof sub.customer === 'string' ? sub.customer : sub.customer.id);
    const draft = build.invoice({
      customer: cus, subscription: sub.id, currency: sub.currency, collectionMethod: sub.collection_method, daysUntilDue: sub.days_until_due,
      metadata: {}, billingReason: 'subscription_create', autoAdvance: true, periodStart: start, periodEnd: start,
    });
    const lines = sub.items.data.map((i) => build.invoiceLine({
      invoice: draft.id, amount: trial ? 0 : (i.price.unit_amount ?? 0) * (i.quantity ?? 1), currency: sub.currency, quantity: i.quantity ?? 1,
      description: `${i.quantity ?? 1} × ${this.products.get(String(i.price.product))?.name ?? 'item'}`, subscription: sub.id,
      periodStart: start, periodEnd: end, price: i.price, metadata: {},
    }));
    this.invoices.set(draft.id, withLines(draft, lines));
    if (sub.days_until_due !== null) this.daysUntilDue.set(draft.id, sub.days_until_due);
    this.emit(ctx, { type: 'invoice.created', data: { object: this.invoice(draft.id) } });
    return this.finalizeInvoice(ctx, draft.id);
  }

  // ---- invoices

  createInvoice(ctx: WriteContext, p: Params): Stripe.Invoice {
    const cus = this.customer(p.required('customer'));
    const subscriptionId = p.str('subscription') ?? null;
    if (subscriptionId) {
      const sub = this.subscription(subscriptionId);
      if (sub.customer !== cus.id) throw invalid(`The subscription '${subscriptionId}' does not belong to customer '${cus.id}'.`, 'subscription');
    }
    const collectionMethod = p.str('collection_method') ?? 'charge_automatically';
    const daysUntilDue = p.int('days_until_due') ?? null;
    if (collectionMethod === 'send_invoice' && daysUntilDue === null) throw invalid('Missing required param: days_until_due.', 'days_until_due', 'parameter_missing');
    const now = unixNow();
    const inv = build.invoice({
      customer: cus, subscription: subscriptionId, currency: (p.str('currency') ?? cus.currency ?? 'usd').toLowerCase(), collectionMethod, daysUntilDue,
      metadata: mergeMetadata({}, p.metadata()), billingReason: 'manual', autoAdvance: p.bool('auto_advance') ?? false, periodStart: now, periodEnd: now,
    });
    // `pending_invoice_items_behavior=exclude` (what we send) leaves pending items out; sweeping them in is not modelled.
    this.invoices.set(inv.id, inv);
    if (daysUntilDue !== null) this.daysUntilDue.set(inv.id, daysUntilDue);
    this.emit(ctx, { type: 'invoice.created', data: { object: inv } });
    return inv;
  }

  invoice(id: string): Stripe.Invoice {
    return found(this.invoices, 'invoice', id);
  }

  createInvoiceItem(p: Params): build.WireInvoiceItem {
    const cus = this.customer(p.required('customer'));
    const invoiceId = p.str('invoice') ?? null;
    const amount = p.int('amount');
    if (amount === undefined) throw invalid('Missing required param: amount.', 'amount', 'parameter_missing');
    const quantity = p.int('quantity') ?? 1;
    const currency = (p.str('currency') ?? cus.currency ?? 'usd').toLowerCase();
    const item = build.invoiceItem({ customer: cus.id, invoice: invoiceId, amount, currency, description: p.str('description') ?? null, quantity, metadata: mergeMetadata({}, p.metadata()) });
    if (invoiceId) {
      const inv = this.invoice(invoiceId);
      if (inv.status !== 'draft') throw invalid(`You can only add invoice items to draft invoices.`, 'invoice', 'invoice_not_editable');
      if (inv.customer !== cus.id) throw invalid(`The invoice '${invoiceId}' belongs to another customer.`, 'invoice');
      if (inv.currency !== currency) throw invalid(`The currency of the invoice item (${currency}) must match the invoice's (${inv.currency}).`, 'currency');
      const line = build.invoiceLine({ invoice: inv.id, amount, currency, description: item.description, quantity, subscription: null, periodStart: item.date, periodEnd: item.date, price: null, metadata: item.metadata ?? {} });
      this.invoices.set(inv.id, withLines(inv, [...inv.lines.data, line]));
    }
    // No invoiceitem.* events: nothing we sync listens to them.
    this.invoiceItems.set(item.id, item);
    return item;
  }

  finalizeInvoice(ctx: WriteContext, id: string): Stripe.Invoice {
    const inv = this.invoice(id);
    if (inv.status !== 'draft') throw new StripeWireError(400, 'invalid_request_error', `This invoice is already finalized, you can't re-finalize a non-draft invoice.`, 'invoice_not_editable');
    const now = unixNow();
    const cus = this.customer(String(inv.customer));
    const dueDays = this.daysUntilDue.get(id);
    this.invoiceSequence += 1;
    let after: Stripe.Invoice = {
      ...inv, status: 'open', number: `${cus.invoice_prefix ?? 'INV'}-${String(this.invoiceSequence).padStart(4, '0')}`,
      effective_at: now, due_date: dueDays === undefined ? null : now + dueDays * 86_400,
      status_transitions: { ...inv.status_transitions, finalized_at: now },
    };
    this.invoices.set(id, after);
    this.emit(ctx, { type: 'invoice.finalized', data: { object: after } });
    if (after.amount_due === 0) after = this.markPaid(ctx, id);
    return after;
  }

  /** `POST /v1/invoices/{id}/pay` with `paid_out_of_band=true`, and the out-of-band payment tests trigger. */
  markPaid(ctx: WriteContext | null, id: string): Stripe.Invoice {
    const inv = this.invoice(id);
    if (inv.status === 'paid') throw invalid('Invoice is already paid', undefined, 'invoice_already_paid');
    return this.pay(ctx, id, inv.amount_remaining);
  }

  /**
   * A payment of `amount` (at most what remains) against an open invoice: an `invoice_payment` with its own id and
   * `invoice_payment.paid`; the invoice's `amount_paid` grows, and it turns `paid` (with `invoice.paid`) once nothing
   * remains. Assumption of the fake: an out-of-band payment of the rest is listed as an invoice payment too.
   */
  pay(ctx: WriteContext | null, id: string, amount: number): Stripe.Invoice {
    const inv = this.invoice(id);
    if (inv.status !== 'open') throw invalid(`You can only pay an open invoice (this one is ${inv.status}).`, undefined, 'invoice_not_open');
    // Nothing left to pay (a zero invoice, e.g. a trial's) settles it without a payment.
    const settlesZero = amount === 0 && inv.amount_remaining === 0;
    if (!settlesZero && (amount <= 0 || amount > inv.amount_remaining)) throw invalid(`Amount must be between 1 and ${inv.amount_remaining}.`, 'amount', 'parameter_invalid_integer');
    const payment = settlesZero ? null : build.invoicePayment({ invoice: id, amount, currency: inv.currency });
    if (payment) this.invoicePayments.set(payment.id, payment);
    const remaining = inv.amount_remaining - amount;
    const after: Stripe.Invoice = {
      ...inv, amount_paid: inv.amount_paid + amount, amount_remaining: remaining,
      ...(remaining === 0 && { status: 'paid' as const, status_transitions: { ...inv.status_transitions, paid_at: unixNow() } }),
    };
    this.invoices.set(id, after);
    if (payment) this.emit(ctx, { type: 'invoice_payment.paid', data: { object: payment } });
    if (remaining === 0) this.emit(ctx, { type: 'invoice.paid', data: { object: after, previous_attributes: { status: 'open' } } });
    return after;
  }
}

/** An object by id, or Stripe's 404 `resource_missing`. */
function found<T>(map: ReadonlyMap<string, T>, kind: string, id: string): T {
  const value = map.get(id);
  if (value === undefined) throw missing(kind, id);
  return value;
}

function withLines(inv: Stripe.Invoice, lines: Stripe.InvoiceLineItem[]): Stripe.Invoice {
  const total = lines.reduce((sum, l) => sum + l.amount, 0);
  return {
    ...inv, lines: { ...inv.lines, data: lines }, subtotal: total, subtotal_excluding_tax: total, total, total_excluding_tax: total,
    amount_due: total, amount_remaining: total - inv.amount_paid,
  };
}

/** `previous_attributes`: the old values of the top-level fields that changed. */
function changed<T extends object>(before: T, after: T): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(after) as (keyof T)[]) {
    if (JSON.stringify(before[key]) !== JSON.stringify(after[key])) out[String(key)] = before[key];
  }
  return out;
}

function recurringInterval(p: Params): Stripe.Price.Recurring.Interval | null {
  const r = p.raw['recurring'];
  if (r === undefined) return null;
  if (typeof r !== 'object' || Array.isArray(r)) throw invalid('Invalid hash', 'recurring');
  const interval = r['interval'];
  if (interval !== 'day' && interval !== 'week' && interval !== 'month' && interval !== 'year') throw invalid('Invalid recurring[interval]', 'recurring[interval]');
  return interval;
}

/** Calendar arithmetic in UTC; the 31st plus a month clamps to the month's last day, as Stripe does. */
export function addInterval(unix: number, interval: Stripe.Price.Recurring.Interval): number {
  if (interval === 'day') return unix + 86_400;
  if (interval === 'week') return unix + 7 * 86_400;
  const d = new Date(unix * 1000);
  const target = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + (interval === 'month' ? 1 : 12), 1, d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()));
  const lastDay = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate();
  target.setUTCDate(Math.min(d.getUTCDate(), lastDay));
  return Math.floor(target.getTime() / 1000);
}
