import type { Queryable } from '../../lib/db/db';
import { insertRows } from '../../lib/seed/insert';
import { type Rng, type SeedAccount, type SeedLink, rng, seededId } from '../../lib/seed/random';
import type { BillingInterval, BillingSubscriptionStatus } from './connector/models';

/** Monthly list prices in minor units per currency; a yearly price is ten months (two months free). */
const CATALOG = [
  { code: 'starter', name: 'Starter', active: true, monthly: { USD: 2_900, EUR: 2_700, GBP: 2_400 } },
  { code: 'growth', name: 'Growth', active: true, monthly: { USD: 9_900, EUR: 9_200, GBP: 7_900 } },
  { code: 'enterprise', name: 'Enterprise', active: true, monthly: { USD: 49_900, EUR: 46_900, GBP: 39_900 } },
  // Retired: still billed on old subscriptions, no longer sold, hidden by plans(activeOnly: true).
  { code: 'legacy', name: 'Legacy', active: false, monthly: { USD: 1_900, EUR: 1_800, GBP: 1_500 } },
] as const;

type CatalogPlan = (typeof CATALOG)[number];
type CatalogCurrency = keyof CatalogPlan['monthly'];
const INTERVALS: readonly BillingInterval[] = ['MONTH', 'YEAR'];

/**
 * seededId hashes only its parts, so the prefix goes in as a part too: otherwise `bsub_`, `sub_` and the CRM's
 * `opp_` ids of the same account would share their hash.
 */
const seedId = (prefix: string, ...parts: (string | number)[]) => seededId(prefix, prefix, ...parts);

// Catalog ids derive from the tenant and natural keys, so seedBilling finds the catalog without reading it back.
const planId = (tenant: string, code: string) => seedId('plan', tenant, code);
const priceId = (tenant: string, code: string, currency: string, interval: BillingInterval) => seedId('price', tenant, code, currency, interval);

function unitAmount(plan: CatalogPlan, currency: CatalogCurrency, interval: BillingInterval): number {
  return interval === 'MONTH' ? plan.monthly[currency] : plan.monthly[currency] * 10;
}

function isCatalogCurrency(currency: string): currency is CatalogCurrency {
  return Object.hasOwn(CATALOG[0].monthly, currency);
}

/** The plan catalog of one tenant: every plan priced monthly and yearly in each catalog currency. */
export async function seedBillingCatalog(db: Queryable, tenant: string): Promise<void> {
  await insertRows(db, 'billing.plans', ['tenant_id', 'id', 'code', 'name', 'active'],
    CATALOG.map((p) => [tenant, planId(tenant, p.code), p.code, p.name, p.active]));
  const prices = CATALOG.flatMap((p) =>
    Object.keys(p.monthly).filter(isCatalogCurrency).flatMap((currency) =>
      INTERVALS.map((interval) => [tenant, priceId(tenant, p.code, currency, interval), planId(tenant, p.code), currency, unitAmount(p, currency, interval), interval]),
    ),
  );
  await insertRows(db, 'billing.prices', ['tenant_id', 'id', 'plan_id', 'currency', 'unit_amount_minor', 'interval'], prices);
}

const STATUSES: readonly BillingSubscriptionStatus[] = ['ACTIVE', 'ACTIVE', 'ACTIVE', 'ACTIVE', 'ACTIVE', 'TRIALING', 'PAST_DUE', 'CANCELED', 'CANCELED'];
const TERMS = [14, 30, 30, 30, 45, 60];

interface Rows {
  customers: unknown[][];
  subscriptions: unknown[][];
  items: unknown[][];
}

/**
 * Per account a billing customer (same id, the account's currency) and 0-2 subscriptions in mixed statuses with
 * 1-2 items each. Deterministic: the same accounts give the same rows, independent of the current date. Accounts
 * in a currency the catalog does not price get a customer but no subscriptions. The tenants' catalogs must exist.
 */
export async function seedBilling(db: Queryable, accounts: readonly SeedAccount[]): Promise<SeedLink[]> {
  const rows: Rows = { customers: [], subscriptions: [], items: [] };
  for (const account of accounts) seedAccount(rows, account);
  await insertRows(db, 'billing.customers',
    ['tenant_id', 'id', 'remote_id', 'name', 'currency', 'payment_terms_days', 'created_at', 'updated_at'], rows.customers);
  await insertRows(db, 'billing.subscriptions',
    ['tenant_id', 'id', 'account_id', 'remote_id', 'status', 'currency', 'current_period_start', 'current_period_end', 'trial_end',
      'canceled_at', 'created_at', 'updated_at'], rows.subscriptions);
  await insertRows(db, 'billing.subscription_items', ['tenant_id', 'id', 'subscription_id', 'plan_id', 'price_id', 'quantity'], rows.items);
  return accounts.map((a) => ({ accountId: a.id, system: 'BILLING', remoteId: seedId('cus', a.tenant, a.index), updatedAt: a.createdAt }));
}

function seedAccount(rows: Rows, account: SeedAccount): void {
  const { tenant, index, currency } = account;
  const r = rng(`billing|${tenant}|${index}`);
  rows.customers.push([tenant, account.id, seedId('cus', tenant, index), account.name, currency, r.pick(TERMS), account.createdAt, account.createdAt]);
  if (!isCatalogCurrency(currency)) return;
  const count = r.int(0, 2);
  for (let n = 0; n < count; n += 1) {
    const subscriptionId = seedId('bsub', tenant, index, n);
    const status = r.pick(STATUSES);
    const periods = seedPeriods(r, account.createdAt, status);
    rows.subscriptions.push([tenant, subscriptionId, account.id, seedId('sub', tenant, index, n), status, currency, periods.start, periods.end,
      periods.trialEnd, periods.canceledAt, periods.createdAt, periods.updatedAt]);
    const plans = pickPlans(r, status);
    plans.forEach((plan, k) => {
      const interval = r.pick(INTERVALS);
      const quantity = plan.code === 'enterprise' ? r.int(10, 200) : r.int(1, 25);
      rows.items.push([tenant, seedId('bitem', tenant, index, n, k), subscriptionId, planId(tenant, plan.code), priceId(tenant, plan.code, currency, interval), quantity]);
    });
  }
}

/** One or two distinct plans; retired plans only on subscriptions that started before their retirement (any but trials). */
function pickPlans(r: Rng, status: BillingSubscriptionStatus): CatalogPlan[] {
  const offered = CATALOG.filter((p) => p.active || status !== 'TRIALING');
  const first = r.pick(offered);
  if (r.next() < 0.7) return [first];
  return [first, r.pick(offered.filter((p) => p !== first))];
}

interface Periods {
  start: string;
  end: string;
  trialEnd: string | null;
  canceledAt: string | null;
  createdAt: string;
  updatedAt: string;
}

/**
 * Dates derived from the account's creation (starting 1-6 months later), never from today. Subscriptions start on day 1-28 so
 * adding months never overflows into the next month.
 */
function seedPeriods(r: Rng, accountCreatedAt: string, status: BillingSubscriptionStatus): Periods {
  const created = new Date(accountCreatedAt);
  const startYear = created.getUTCFullYear();
  const startMonth = created.getUTCMonth() + r.int(1, 6);
  const day = r.int(1, 28);
  const date = (months: number, days = 0) => new Date(Date.UTC(startYear, startMonth + months, day + days));
  const isoDate = (d: Date) => d.toISOString().slice(0, 10);
  const renewals = status === 'TRIALING' ? 0 : r.int(0, 18);
  const end = date(renewals + 1);
  const updated = status === 'CANCELED' ? end : date(renewals);
  return {
    start: isoDate(date(renewals)),
    end: isoDate(end),
    trialEnd: status === 'TRIALING' ? isoDate(date(0, 14)) : null,
    canceledAt: status === 'CANCELED' ? updated.toISOString() : null,
    createdAt: date(0).toISOString(),
    updatedAt: updated.toISOString(),
  };
}
