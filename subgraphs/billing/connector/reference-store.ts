import { externalIdsOf } from '../../../lib/db/external-ids';
import type { Db, Queryable } from '../../../lib/db/db';
import { Where } from '../../../lib/db/sql';
import { iso, newId, str } from '../../../lib/db/rows';
import type { NewSubscriptionItem } from './models';
import type { BillingConnector } from './port';
import { type BillingWriteHooks, billingInvoicing } from './invoicing';
import { CUSTOMER_COLS, PLAN_SELECT, SUBSCRIPTION_SELECT, customer, invoice, plan, price, subscription } from './rows';

/** The built-in billing system of record: tables in the `billing` schema. Every statement is bound to one tenant. */
export function billingReferenceStore(db: Db, tenant: string, hooks?: BillingWriteHooks): BillingConnector {
  const q = (sql: string, params: unknown[], on: Queryable = db) => on.query(sql, params);
  const subscriptionsByIds = async (ids: readonly string[], on: Queryable = db) =>
    (await q(`${SUBSCRIPTION_SELECT} AND s.id = ANY($2::text[])`, [tenant, ids], on)).map(subscription);

  /** Inserts items with one statement whatever their number (arrays unnested into rows). */
  const insertItems = (tx: Queryable, subscriptionId: string, items: readonly NewSubscriptionItem[]) =>
    q(
      `INSERT INTO billing.subscription_items (tenant_id, id, subscription_id, plan_id, price_id, quantity)
       SELECT $1, item.id, $2, item.plan_id, item.price_id, item.quantity
       FROM unnest($3::text[], $4::text[], $5::text[], $6::int[]) AS item (id, plan_id, price_id, quantity)`,
      [tenant, subscriptionId, items.map(() => newId('bitem')), items.map((i) => i.planId), items.map((i) => i.priceId), items.map((i) => i.quantity)],
      tx,
    );

  /**
   * Touches a subscription that is not CANCELED (applying `set` too) and tells whether there was one. The UPDATE
   * also locks the row until the transaction ends, so concurrent writes to one subscription run one after another.
   */
  const updateLive = async (tx: Queryable, id: string, set = '') => {
    const sql = `UPDATE billing.subscriptions SET ${set}updated_at = now() WHERE tenant_id = $1 AND id = $2 AND status <> 'CANCELED' RETURNING id`;
    return (await q(sql, [tenant, id], tx)).length > 0;
  };

  /** Reads back a subscription written in the same transaction. */
  const reread = async (tx: Queryable, id: string) => {
    const row = (await subscriptionsByIds([id], tx))[0];
    if (!row) throw new Error(`subscription ${id} vanished inside its own transaction`);
    return row;
  };

  return {
    ...billingInvoicing(db, tenant, hooks),
    async customersByIds(ids) {
      return (await q(`SELECT ${CUSTOMER_COLS} FROM billing.customers WHERE tenant_id = $1 AND id = ANY($2::text[])`, [tenant, ids])).map(customer);
    },
    async plansByIds(ids) {
      return (await q(`${PLAN_SELECT} AND p.id = ANY($2::text[])`, [tenant, ids])).map(plan);
    },
    async listPlans(activeOnly) {
      return (await q(`${PLAN_SELECT}${activeOnly ? ' AND p.active' : ''} ORDER BY p.code`, [tenant])).map(plan);
    },
    async activePricesByPlanCodes(codes, currency) {
      const rows = await q(
        `SELECT pl.code, pr.id AS "id", pr.plan_id AS "planId", pr.currency, pr.unit_amount_minor::text AS "unitAmountMinor", pr.interval
         FROM billing.plans pl JOIN billing.prices pr ON pr.tenant_id = pl.tenant_id AND pr.plan_id = pl.id
         WHERE pl.tenant_id = $1 AND pl.active AND pl.code = ANY($2::text[]) AND pr.currency = $3`,
        [tenant, codes, currency],
      );
      return rows.map((r) => ({ ...price(r), planCode: str(r['code']) }));
    },
    subscriptionsByIds: (ids) => subscriptionsByIds(ids),
    async subscriptionsByAccounts(accountIds, statuses) {
      const w = new Where([tenant, accountIds]);
      if (statuses?.length) w.add((p) => `s.status = ANY(${p}::text[])`, statuses);
      const sql = `${SUBSCRIPTION_SELECT} AND s.account_id = ANY($2::text[])${w} ORDER BY s.account_id, s.id`;
      return (await q(sql, w.params)).map(subscription);
    },
    async listSubscriptions(filter, page) {
      const w = new Where([tenant]);
      if (filter.accountId) w.add((p) => `s.account_id = ${p}`, filter.accountId);
      if (filter.statuses?.length) w.add((p) => `s.status = ANY(${p}::text[])`, filter.statuses);
      if (filter.planCode) {
        w.add((p) => `EXISTS (SELECT 1 FROM billing.subscription_items i JOIN billing.plans pl ON pl.tenant_id = i.tenant_id AND pl.id = i.plan_id
          WHERE i.tenant_id = $1 AND i.subscription_id = s.id AND pl.code = ${p})`, filter.planCode);
      }
      if (page.afterId) w.add((p) => `s.id > ${p}`, page.afterId);
      w.params.push(page.limit + 1);
      return (await q(`${SUBSCRIPTION_SELECT}${w} ORDER BY s.id LIMIT $${w.params.length}`, w.params)).map(subscription);
    },
    async invoicesByIds(ids) {
      const rows = await q(
        `SELECT invoice_id, subscription_id, period_start, period_end FROM billing.invoice_links WHERE tenant_id = $1 AND invoice_id = ANY($2::text[])`,
        [tenant, ids],
      );
      return rows.map(invoice);
    },
    async linkedInvoiceIds(afterId, limit) {
      const rows = await q(
        `SELECT invoice_id FROM billing.invoice_links WHERE tenant_id = $1 AND ($2::text IS NULL OR invoice_id > $2) ORDER BY invoice_id LIMIT $3`,
        [tenant, afterId, limit],
      );
      return rows.map((r) => str(r['invoice_id']));
    },
    externalIdsByEntities: (ids) => externalIdsOf(db, 'billing', tenant, ids),

    createSubscription(input) {
      return db.transaction(async (tx) => {
        // An account gets its billing customer with its first subscription; an existing customer is kept as is.
        await q(
          `INSERT INTO billing.customers (tenant_id, id, remote_id, currency) VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id, id) DO NOTHING`,
          [tenant, input.accountId, remoteId('cus'), input.currency],
          tx,
        );
        const id = input.id ?? newId('bsub');
        const [existing] = await q('SELECT 1 FROM billing.subscriptions WHERE tenant_id = $1 AND id = $2', [tenant, id], tx);
        if (existing) return reread(tx, id);
        await hooks?.subscriptionStatusChanged(tx, id, input.status);
        // Date arithmetic in SQL: `+ interval '1 month'` clamps to the month's last day (Jan 31 -> Feb 28).
        await q(
          `INSERT INTO billing.subscriptions
             (tenant_id, id, account_id, remote_id, status, currency, current_period_start, current_period_end, trial_end)
           VALUES ($1, $2, $3, $4, $5, $6, $7::date, ($7::date + interval '1 month')::date,
             CASE WHEN $8::int > 0 THEN $7::date + $8::int END)`,
          [tenant, id, input.accountId, remoteId('sub'), input.status, input.currency, input.periodStart, input.trialDays],
          tx,
        );
        await insertItems(tx, id, input.items);
        await hooks?.subscriptionWritten?.(tx, id, 'CREATED');
        return reread(tx, id);
      });
    },
    async linkInvoice(invoiceId, subscriptionId, periodStart, periodEnd) {
      await q(
        `INSERT INTO billing.invoice_links (tenant_id, invoice_id, subscription_id, period_start, period_end)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, invoice_id) DO NOTHING`,
        [tenant, invoiceId, subscriptionId, periodStart, periodEnd],
      );
    },
    async upsertCustomer(input) {
      const rows = await q(
        `INSERT INTO billing.customers (tenant_id, id, remote_id, name, currency) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (tenant_id, id) DO UPDATE SET name = EXCLUDED.name, updated_at = now()
         RETURNING remote_id, updated_at`,
        [tenant, input.id, remoteId('cus'), input.name, input.currency],
      );
      const row = rows[0];
      if (!row) throw new Error('upsert returned no row');
      return { remoteId: str(row['remote_id']), updatedAt: iso(row['updated_at']) };
    },
    replaceItems(id, items) {
      return db.transaction(async (tx) => {
        if (!(await updateLive(tx, id))) return null;
        await q('DELETE FROM billing.subscription_items WHERE tenant_id = $1 AND subscription_id = $2', [tenant, id], tx);
        await insertItems(tx, id, items);
        await hooks?.subscriptionWritten?.(tx, id, 'ITEMS_REPLACED');
        return reread(tx, id);
      });
    },
    cancelSubscription(id, atPeriodEnd) {
      // At period end only canceled_at is set (keeping the first request's time): canceled_at on a live subscription
      // is the scheduled cancellation, and the status stays until the period ends.
      const set = atPeriodEnd ? 'canceled_at = COALESCE(canceled_at, now()), ' : `status = 'CANCELED', canceled_at = now(), `;
      return db.transaction(async (tx) => {
        if (!(await updateLive(tx, id, set))) return null;
        const sub = await reread(tx, id);
        if (!atPeriodEnd) await hooks?.subscriptionStatusChanged(tx, id, sub.status);
        await hooks?.subscriptionWritten?.(tx, id, 'CANCELED');
        return sub;
      });
    },
  };
}

/** A Stripe-style remote id (`cus_...`, `sub_...`): the id the record has inside the billing system. */
function remoteId(prefix: string): string {
  return `${prefix}_${crypto.randomUUID().replace(/-/g, '').slice(0, 14)}`;
}
