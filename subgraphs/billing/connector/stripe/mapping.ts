import type Stripe from 'stripe';
import { money } from '../../../../lib/money';
import type { BillingInterval, BillingSubscriptionStatus } from '../models';
import {
  CANONICAL_ID_METADATA_KEY, type RemoteCustomer, type RemoteInvoice, type RemoteInvoicePayment, type RemoteInvoiceStatus, type RemotePrice,
  type RemoteSubscription,
} from '../remote-port';

/**
 * Stripe objects -> our canonical remote models. Amounts are Stripe's integer minor units (never floats), currencies
 * upper-cased ISO-4217, Unix seconds turned into ISO dates (periods) or date-times (instants). `observedAt` stands in
 * for an update time, which Stripe records do not carry. Plan codes live on products, so prices take them from
 * `planCodes` (product id -> code), which the adapter fills.
 */

const isoDate = (unix: number) => new Date(unix * 1000).toISOString().slice(0, 10);
const isoTime = (unix: number) => new Date(unix * 1000).toISOString();
const upper = (currency: string) => currency.toUpperCase();
const ref = (v: string | { id: string } | null) => (v === null ? null : typeof v === 'string' ? v : v.id);
const canonicalId = (metadata: Stripe.Metadata | null) => metadata?.[CANONICAL_ID_METADATA_KEY] ?? null;

export function toRemoteCustomer(c: Stripe.Customer, observedAt: string): RemoteCustomer {
  return {
    remoteId: c.id, canonicalId: canonicalId(c.metadata), remoteUpdatedAt: observedAt, remoteData: c,
    name: c.name ?? null, email: c.email, currency: c.currency ? upper(c.currency) : null,
  };
}

export function productIdOf(p: Stripe.Price): string {
  return typeof p.product === 'string' ? p.product : p.product.id;
}

export function toRemotePrice(p: Stripe.Price, observedAt: string, planCodes: ReadonlyMap<string, string | null>): RemotePrice {
  if (p.unit_amount === null) throw new TypeError(`Stripe price ${p.id} has no unit_amount (tiered or custom prices are not supported)`);
  const productId = productIdOf(p);
  return {
    remoteId: p.id, canonicalId: canonicalId(p.metadata), remoteUpdatedAt: observedAt, remoteData: p,
    productRemoteId: productId, planCode: planCodes.get(productId) ?? null,
    unitAmount: money(BigInt(p.unit_amount), upper(p.currency)), interval: interval(p), active: p.active,
  };
}

function interval(p: Stripe.Price): BillingInterval {
  switch (p.recurring?.interval) {
    case 'month': return 'MONTH';
    case 'year': return 'YEAR';
    default: throw new TypeError(`Stripe price ${p.id} is not billed monthly or yearly`);
  }
}

const SUBSCRIPTION_STATUS: Record<string, BillingSubscriptionStatus> = {
  trialing: 'TRIALING', active: 'ACTIVE', past_due: 'PAST_DUE', unpaid: 'PAST_DUE', incomplete: 'PAST_DUE',
  paused: 'ACTIVE', canceled: 'CANCELED', incomplete_expired: 'CANCELED',
};

export function toRemoteSubscription(s: Stripe.Subscription, observedAt: string, planCodes: ReadonlyMap<string, string | null>): RemoteSubscription {
  const status = SUBSCRIPTION_STATUS[s.status];
  if (!status) throw new TypeError(`Stripe subscription ${s.id} has an unknown status "${s.status}"`);
  // Since API 2025-03-31 periods live on the items; all items of a subscription share one billing cycle.
  const first = s.items.data[0];
  return {
    remoteId: s.id, canonicalId: canonicalId(s.metadata), remoteUpdatedAt: observedAt, remoteData: s,
    customerRemoteId: ref(s.customer) ?? '', status, currency: upper(s.currency),
    currentPeriodStart: isoDate(first?.current_period_start ?? s.start_date), currentPeriodEnd: isoDate(first?.current_period_end ?? s.start_date),
    trialEnd: s.trial_end === null ? null : isoDate(s.trial_end), canceledAt: s.canceled_at === null ? null : isoTime(s.canceled_at),
    cancelAtPeriodEnd: s.cancel_at_period_end, latestInvoiceRemoteId: ref(s.latest_invoice),
    items: s.items.data.map((i) => ({ remoteId: i.id, quantity: i.quantity ?? 1, price: toRemotePrice(i.price, observedAt, planCodes) })),
  };
}

const INVOICE_STATUS: Record<string, RemoteInvoiceStatus> = { draft: 'DRAFT', open: 'ISSUED', uncollectible: 'ISSUED', paid: 'PAID', void: 'VOID' };

export function toRemoteInvoice(i: Stripe.Invoice, observedAt: string): RemoteInvoice {
  const status = INVOICE_STATUS[i.status ?? ''];
  if (!status) throw new TypeError(`Stripe invoice ${i.id} has an unknown status "${String(i.status)}"`);
  const currency = upper(i.currency);
  const m = (amount: number) => money(BigInt(amount), currency);
  // A subscription invoice's own period_start/end is the previous period; its lines carry the period billed.
  const lines = i.lines.data;
  const periodStart = lines.length ? Math.min(...lines.map((l) => l.period.start)) : i.period_start;
  const periodEnd = lines.length ? Math.max(...lines.map((l) => l.period.end)) : i.period_end;
  return {
    remoteId: i.id, canonicalId: canonicalId(i.metadata), remoteUpdatedAt: observedAt, remoteData: i,
    customerRemoteId: ref(i.customer) ?? '', subscriptionRemoteId: ref(i.parent?.subscription_details?.subscription ?? null),
    number: i.number, status, total: m(i.total), amountDue: m(i.amount_due), amountPaid: m(i.amount_paid), amountRemaining: m(i.amount_remaining),
    periodStart: isoDate(periodStart), periodEnd: isoDate(periodEnd), dueDate: i.due_date === null ? null : isoDate(i.due_date),
    lines: lines.map((l) => ({ remoteId: l.id, description: l.description, amount: m(l.amount), quantity: l.quantity ?? 1 })),
  };
}

const PAYMENT_STATUS: Record<string, RemoteInvoicePayment['status']> = { paid: 'PAID', open: 'OPEN', canceled: 'CANCELED' };

export function toRemoteInvoicePayment(p: Stripe.InvoicePayment): RemoteInvoicePayment {
  const status = PAYMENT_STATUS[p.status] ?? 'OPEN';
  return {
    remoteId: p.id, invoiceRemoteId: ref(p.invoice) ?? '', status,
    amount: money(BigInt(status === 'PAID' ? (p.amount_paid ?? 0) : 0), upper(p.currency)),
    paidAt: p.status_transitions.paid_at === null ? null : isoTime(p.status_transitions.paid_at),
  };
}
