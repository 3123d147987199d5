import type { Row } from '../../../lib/db/db';
import { int, iso, isoOrNull, str, strOrNull } from '../../../lib/db/rows';
import type {
  BillingCustomerModel, BillingInterval, BillingInvoiceModel, BillingSubscriptionModel, BillingSubscriptionStatus,
  PlanModel, PriceModel, SubscriptionItemModel,
} from './models';

/**
 * SQL and row readers for the billing tables. Child rows (prices of a plan, items of a subscription) are aggregated
 * into a JSON column of the parent's row, so a parent and its children cost one statement whatever N is.
 * Every fragment expects the tenant as parameter $1.
 */

/** A price as a JSON object; bigint goes through text so no amount is ever a float. */
const priceJson = (a: string) =>
  `json_build_object('id', ${a}.id, 'planId', ${a}.plan_id, 'currency', ${a}.currency, 'unitAmountMinor', ${a}.unit_amount_minor::text, 'interval', ${a}.interval)`;

export const PLAN_SELECT = `SELECT p.id, p.code, p.name, p.active,
  COALESCE((SELECT json_agg(${priceJson('pr')} ORDER BY pr.currency, pr.interval) FROM billing.prices pr
    WHERE pr.tenant_id = $1 AND pr.plan_id = p.id), '[]'::json) AS prices
  FROM billing.plans p WHERE p.tenant_id = $1`;

export const SUBSCRIPTION_SELECT = `SELECT s.id, s.account_id, s.remote_id, s.status, s.currency, s.current_period_start,
  s.current_period_end, s.trial_end, s.canceled_at, s.created_at, s.updated_at,
  COALESCE((SELECT json_agg(json_build_object('id', i.id, 'planId', i.plan_id, 'quantity', i.quantity, 'price', ${priceJson('pr')}) ORDER BY i.id)
    FROM billing.subscription_items i JOIN billing.prices pr ON pr.tenant_id = i.tenant_id AND pr.id = i.price_id
    WHERE i.tenant_id = $1 AND i.subscription_id = s.id), '[]'::json) AS items
  FROM billing.subscriptions s WHERE s.tenant_id = $1`;

export const CUSTOMER_COLS = 'id, remote_id, name, currency, payment_terms_days, created_at, updated_at';

export function customer(r: Row): BillingCustomerModel {
  return {
    id: str(r['id']), remoteId: str(r['remote_id']), name: strOrNull(r['name']), currency: str(r['currency']),
    paymentTermsDays: int(r['payment_terms_days']), createdAt: iso(r['created_at']), updatedAt: iso(r['updated_at']),
  };
}

export function price(r: Row): PriceModel {
  const currency = str(r['currency']);
  return {
    id: str(r['id']), planId: str(r['planId']), currency, unitAmount: { amountMinor: str(r['unitAmountMinor']), currency },
    interval: str(r['interval']) as BillingInterval,
  };
}

export function plan(r: Row): PlanModel {
  return { id: str(r['id']), code: str(r['code']), name: str(r['name']), active: bool(r['active']), prices: jsonRows(r['prices']).map(price) };
}

function item(r: Row): SubscriptionItemModel {
  return { id: str(r['id']), planId: str(r['planId']), quantity: int(r['quantity']), price: price(jsonObject(r['price'])) };
}

export function subscription(r: Row): BillingSubscriptionModel {
  return {
    id: str(r['id']), accountId: str(r['account_id']), remoteId: str(r['remote_id']),
    status: str(r['status']) as BillingSubscriptionStatus, currency: str(r['currency']),
    currentPeriodStart: str(r['current_period_start']), currentPeriodEnd: str(r['current_period_end']),
    trialEnd: strOrNull(r['trial_end']), canceledAt: isoOrNull(r['canceled_at']),
    createdAt: iso(r['created_at']), updatedAt: iso(r['updated_at']), items: jsonRows(r['items']).map(item),
  };
}

export function invoice(r: Row): BillingInvoiceModel {
  return {
    id: str(r['invoice_id']), subscriptionId: str(r['subscription_id']),
    billingPeriodStart: str(r['period_start']), billingPeriodEnd: str(r['period_end']),
  };
}

function bool(value: unknown): boolean {
  if (typeof value !== 'boolean') throw new TypeError(`expected a boolean, got ${typeof value}`);
  return value;
}

/** Drivers parse json columns; a string is accepted too in case a driver is configured not to. */
function parseJson(value: unknown): unknown {
  return typeof value === 'string' ? JSON.parse(value) : value;
}

function jsonObject(value: unknown): Row {
  const parsed = parseJson(value);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new TypeError('expected a JSON object');
  return parsed as Row;
}

function jsonRows(value: unknown): Row[] {
  const parsed = parseJson(value);
  if (!Array.isArray(parsed)) throw new TypeError('expected a JSON array');
  return parsed.map(jsonObject);
}
