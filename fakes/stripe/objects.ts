import type Stripe from 'stripe';
import { newId, unixNow } from './wire';

/**
 * Builders of the wire objects the fake serves, typed with the SDK's own types so the compiler checks every shape.
 * Fields we do not model get Stripe's empty value (null, [], false). Decimal mirrors of integer amounts
 * (`unit_amount_decimal`, `amount_decimal`) are null: we only ever use integer minor units.
 */

/** An invoice item's `quantity_decimal` is a non-null Decimal in the SDK (parsed from the wire's decimal string). */
export type WireInvoiceItem = Omit<Stripe.InvoiceItem, 'quantity_decimal'> & { quantity_decimal: string };

export function customer(p: { name: string | null; email: string | null; metadata: Stripe.Metadata; description: string | null }): Stripe.Customer {
  return {
    id: newId('cus'), object: 'customer', address: null, balance: 0, created: unixNow(), currency: null, default_source: null,
    delinquent: false, description: p.description, discount: null, email: p.email,
    invoice_prefix: newId('x').slice(2, 10).toUpperCase(),
    invoice_settings: { custom_fields: null, default_payment_method: null, footer: null, rendering_options: null },
    livemode: false, metadata: p.metadata, name: p.name, next_invoice_sequence: 1, phone: null, preferred_locales: [],
    shipping: null, tax_exempt: 'none', test_clock: null,
  };
}

export function product(p: { id?: string; name: string; active: boolean; description: string | null; metadata: Stripe.Metadata }): Stripe.Product {
  const now = unixNow();
  return {
    id: p.id ?? newId('prod'), object: 'product', active: p.active, created: now, default_price: null, description: p.description,
    images: [], livemode: false, marketing_features: [], metadata: p.metadata, name: p.name, package_dimensions: null,
    shippable: null, statement_descriptor: null, tax_code: null, tax_details: null, type: 'service', unit_label: null, updated: now, url: null,
  };
}

export function price(p: {
  product: string; currency: string; unitAmount: number; interval: Stripe.Price.Recurring.Interval | null; active: boolean;
  metadata: Stripe.Metadata; nickname: string | null; lookupKey: string | null;
}): Stripe.Price {
  return {
    id: newId('price'), object: 'price', active: p.active, billing_scheme: 'per_unit', created: unixNow(), currency: p.currency,
    custom_unit_amount: null, livemode: false, lookup_key: p.lookupKey, metadata: p.metadata, nickname: p.nickname, product: p.product,
    recurring: p.interval ? { interval: p.interval, interval_count: 1, meter: null, trial_period_days: null, usage_type: 'licensed' } : null,
    tax_behavior: 'unspecified', tiers_mode: null, transform_quantity: null, type: p.interval ? 'recurring' : 'one_time',
    unit_amount: p.unitAmount, unit_amount_decimal: null,
  };
}

/** The legacy Plan view every subscription item still carries, derived from its price. */
function planOf(pr: Stripe.Price): Stripe.Plan {
  return {
    id: pr.id, object: 'plan', active: pr.active, amount: pr.unit_amount, amount_decimal: null, billing_scheme: 'per_unit',
    created: pr.created, currency: pr.currency, interval: pr.recurring?.interval ?? 'month', interval_count: 1, livemode: false,
    metadata: pr.metadata, meter: null, nickname: pr.nickname, product: typeof pr.product === 'string' ? pr.product : pr.product.id,
    tiers_mode: null, transform_usage: null, trial_period_days: null, usage_type: 'licensed',
  };
}

export function subscriptionItem(p: { subscription: string; price: Stripe.Price; quantity: number; periodStart: number; periodEnd: number }): Stripe.SubscriptionItem {
  return {
    id: newId('si'), object: 'subscription_item', billing_thresholds: null, created: unixNow(), current_period_end: p.periodEnd,
    current_period_start: p.periodStart, current_trial: null, discounts: [], metadata: {}, plan: planOf(p.price), price: p.price,
    quantity: p.quantity, subscription: p.subscription, tax_rates: [],
  };
}

export function subscription(p: {
  id: string; customer: string; currency: string; collectionMethod: Stripe.Subscription.CollectionMethod; daysUntilDue: number | null;
  status: Stripe.Subscription.Status; start: number; trialEnd: number | null; metadata: Stripe.Metadata; items: Stripe.SubscriptionItem[];
}): Stripe.Subscription {
  return {
    id: p.id, object: 'subscription', application: null, application_fee_percent: null,
    automatic_tax: { disabled_reason: null, enabled: false, liability: null }, billing_cycle_anchor: p.start,
    billing_cycle_anchor_config: null, billing_mode: { flexible: null, type: 'classic' }, billing_schedules: [], billing_thresholds: null,
    cancel_at: null, cancel_at_period_end: false, canceled_at: null, cancellation_details: null, collection_method: p.collectionMethod,
    created: p.start, currency: p.currency, customer: p.customer, customer_account: null, days_until_due: p.daysUntilDue,
    default_payment_method: null, default_source: null, default_tax_rates: [], description: null, discounts: [], ended_at: null,
    invoice_settings: { account_tax_ids: null, custom_fields: null, description: null, footer: null, issuer: { type: 'self' } },
    items: { object: 'list', data: p.items, has_more: false, url: `/v1/subscription_items?subscription=${p.id}` },
    latest_invoice: null, livemode: false, managed_payments: null, metadata: p.metadata, next_pending_invoice_item_invoice: null,
    on_behalf_of: null, pause_collection: null, payment_settings: { payment_method_options: null, payment_method_types: null, save_default_payment_method: 'off' },
    pending_invoice_item_interval: null, pending_setup_intent: null, pending_update: null, schedule: null, start_date: p.start,
    status: p.status, test_clock: null, transfer_data: null, trial_end: p.trialEnd, trial_settings: null,
    trial_start: p.trialEnd ? p.start : null,
  };
}

export function invoice(p: {
  customer: Stripe.Customer; subscription: string | null; currency: string; collectionMethod: Stripe.Invoice.CollectionMethod;
  daysUntilDue: number | null; metadata: Stripe.Metadata; billingReason: Stripe.Invoice.BillingReason; autoAdvance: boolean;
  periodStart: number; periodEnd: number;
}): Stripe.Invoice {
  const id = newId('in');
  return {
    id, object: 'invoice', account_country: 'US', account_name: 'Stripe fake', account_tax_ids: null, amount_due: 0, amount_overpaid: 0,
    amount_paid: 0, amount_remaining: 0, amount_shipping: 0, application: null, attempt_count: 0, attempted: false,
    auto_advance: p.autoAdvance, automatic_tax: { disabled_reason: null, enabled: false, liability: null, provider: null, status: null },
    automatically_finalizes_at: null, billing_reason: p.billingReason, collection_method: p.collectionMethod, created: unixNow(),
    currency: p.currency, custom_fields: null, customer: p.customer.id, customer_account: null, customer_address: null,
    customer_email: p.customer.email, customer_name: p.customer.name ?? null, customer_phone: null, customer_shipping: null,
    customer_tax_exempt: 'none', default_payment_method: null, default_source: null, default_tax_rates: [], description: null,
    discounts: [], due_date: null, effective_at: null, ending_balance: null, footer: null, from_invoice: null, issuer: { type: 'self' },
    last_finalization_error: null, latest_revision: null,
    lines: { object: 'list', data: [], has_more: false, url: `/v1/invoices/${id}/lines` },
    livemode: false, metadata: p.metadata, next_payment_attempt: null, number: null, on_behalf_of: null,
    parent: p.subscription
      ? { quote_details: null, subscription_details: { metadata: null, subscription: p.subscription }, type: 'subscription_details' }
      : null,
    payment_settings: { default_mandate: null, payment_method_options: null, payment_method_types: null },
    period_end: p.periodEnd, period_start: p.periodStart, post_payment_credit_notes_amount: 0, pre_payment_credit_notes_amount: 0,
    receipt_number: null, rendering: null, shipping_cost: null, shipping_details: null, starting_balance: 0, statement_descriptor: null,
    status: 'draft', status_transitions: { finalized_at: null, marked_uncollectible_at: null, paid_at: null, voided_at: null },
    subtotal: 0, subtotal_excluding_tax: 0, test_clock: null, total: 0, total_discount_amounts: [], total_excluding_tax: 0,
    total_pretax_credit_amounts: [], total_taxes: [], webhooks_delivered_at: null,
  };
}

export function invoiceLine(p: {
  invoice: string; amount: number; currency: string; description: string | null; quantity: number; subscription: string | null;
  periodStart: number; periodEnd: number; price: Stripe.Price | null; metadata: Stripe.Metadata;
}): Stripe.InvoiceLineItem {
  return {
    id: newId('il'), object: 'line_item', amount: p.amount, currency: p.currency, description: p.description, discount_amounts: [],
    discountable: true, discounts: [], invoice: p.invoice, livemode: false, metadata: p.metadata, parent: null,
    period: { end: p.periodEnd, start: p.periodStart }, pretax_credit_amounts: [],
    pricing: p.price
      ? { price_details: { price: p.price.id, product: typeof p.price.product === 'string' ? p.price.product : p.price.product.id }, type: 'price_details', unit_amount_decimal: null }
      : null,
    quantity: p.quantity, quantity_decimal: null, subscription: p.subscription, subtotal: p.amount, taxes: [],
  };
}

export function invoiceItem(p: {
  customer: string; invoice: string | null; amount: number; currency: string; description: string | null; quantity: number; metadata: Stripe.Metadata;
}): WireInvoiceItem {
  const now = unixNow();
  return {
    id: newId('ii'), object: 'invoiceitem', amount: p.amount, currency: p.currency, customer: p.customer, customer_account: null,
    date: now, description: p.description, discountable: true, discounts: [], invoice: p.invoice, livemode: false, metadata: p.metadata,
    parent: null, period: { end: now, start: now }, pricing: null, proration: false, quantity: p.quantity,
    quantity_decimal: String(p.quantity), tax_rates: [], test_clock: null,
  };
}

export function account(id: string): Stripe.Account {
  return { id, object: 'account', charges_enabled: true, details_submitted: true, email: null, payouts_enabled: true, type: 'standard' };
}

/** One payment of an invoice (Stripe lists them under `GET /v1/invoice_payments?invoice=`), paid at once here. */
export function invoicePayment(p: { invoice: string; amount: number; currency: string }): Stripe.InvoicePayment {
  const now = unixNow();
  return {
    id: newId('inpay'), object: 'invoice_payment', amount_paid: p.amount, amount_requested: p.amount, created: now, currency: p.currency,
    invoice: p.invoice, is_default: false, livemode: false, payment: { type: 'payment_record', payment_record: newId('pr') }, status: 'paid',
    status_transitions: { canceled_at: null, paid_at: now },
  };
}
