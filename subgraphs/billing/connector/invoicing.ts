import type { Db, Queryable, Row } from '../../../lib/db/db';
import { iso, newId, str } from '../../../lib/db/rows';
import { BillingRuleViolation } from './errors';
import type { BillingPaymentModel, IssuedInvoiceModel, IssuedInvoiceStatus } from './models';
import type { BillingInvoicing } from './port';

/** Called inside the write's transaction: how billing documents reach the sync outbox atomically. */
export interface BillingWriteHooks {
  invoiceIssued(tx: Queryable, invoice: IssuedInvoiceModel): Promise<void>;
  paymentRecorded(tx: Queryable, payment: BillingPaymentModel): Promise<void>;
  subscriptionStatusChanged(tx: Queryable, subscriptionId: string, status: string): Promise<void>;
  /** A subscription was created, its items replaced or its cancellation asked (now or at period end). */
  subscriptionWritten?(tx: Queryable, subscriptionId: string, change: SubscriptionChange): Promise<void>;
}

export type SubscriptionChange = 'CREATED' | 'ITEMS_REPLACED' | 'CANCELED';


const INVOICE_COLS = 'id, subscription_id, account_id, currency, amount_minor, amount_paid_minor, status, period_start, period_end';

function issued(r: Row): IssuedInvoiceModel {
  const currency = str(r['currency']);
  return {
    id: str(r['id']), subscriptionId: str(r['subscription_id']), accountId: str(r['account_id']), status: str(r['status']) as IssuedInvoiceStatus,
    amount: { amountMinor: str(r['amount_minor']), currency }, amountPaid: { amountMinor: str(r['amount_paid_minor']), currency },
    periodStart: str(r['period_start']), periodEnd: str(r['period_end']),
  };
}

function payment(r: Row): BillingPaymentModel {
  return { id: str(r['id']), invoiceId: str(r['invoice_id']), amount: { amountMinor: str(r['amount_minor']), currency: str(r['currency']) }, receivedAt: iso(r['received_at']) };
}

/**
 * Invoices billing issues for a subscription's current period (amount = the period's recurring charge) and payments
 * collected against them. Each write and its sync job commit together.
 */
export function billingInvoicing(db: Db, tenant: string, hooks?: BillingWriteHooks): BillingInvoicing {
  return {
    async issuedInvoicesByIds(ids: readonly string[]): Promise<IssuedInvoiceModel[]> {
      return (await db.query(`SELECT ${INVOICE_COLS} FROM billing.invoices WHERE tenant_id = $1 AND id = ANY($2::text[])`, [tenant, ids])).map(issued);
    },
    async billingPaymentsByIds(ids: readonly string[]): Promise<BillingPaymentModel[]> {
      return (await db.query('SELECT id, invoice_id, amount_minor, currency, received_at FROM billing.payments WHERE tenant_id = $1 AND id = ANY($2::text[])', [tenant, ids])).map(payment);
    },
    /** Issues the invoice for the current period; `amountMinor` is computed by the caller from the subscription. */
    async issueInvoice(subscriptionId: string, amountMinor: string): Promise<IssuedInvoiceModel | null> {
      return db.transaction(async (tx) => {
        const [sub] = await tx.query(
          'SELECT id, account_id, currency, status, current_period_start, current_period_end FROM billing.subscriptions WHERE tenant_id = $1 AND id = $2 FOR UPDATE',
          [tenant, subscriptionId],
        );
        if (!sub) return null;
        if (sub['status'] === 'CANCELED') throw new BillingRuleViolation('BILLING.SUBSCRIPTION_CANCELED', `Subscription "${subscriptionId}" is CANCELED`);
        const [row] = await tx.query(
          `INSERT INTO billing.invoices (tenant_id, id, subscription_id, account_id, currency, amount_minor, status, period_start, period_end)
           VALUES ($1, $2, $3, $4, $5, $6, 'ISSUED', $7, $8) RETURNING ${INVOICE_COLS}`,
          [tenant, newId('inv'), subscriptionId, sub['account_id'], sub['currency'], amountMinor, sub['current_period_start'], sub['current_period_end']],
        );
        if (!row) throw new Error('invoice insert returned no row');
        const invoice = issued(row);
        await tx.query(
          `INSERT INTO billing.invoice_links (tenant_id, invoice_id, subscription_id, period_start, period_end) VALUES ($1, $2, $3, $4, $5)`,
          [tenant, invoice.id, subscriptionId, invoice.periodStart, invoice.periodEnd],
        );
        await hooks?.invoiceIssued(tx, invoice);
        return invoice;
      });
    },
    /** Records a payment; the invoice turns PAID when fully paid. Overpayment is refused. */
    async recordInvoicePayment(invoiceId: string, amountMinor: string): Promise<{ invoice: IssuedInvoiceModel; payment: BillingPaymentModel } | null> {
      return db.transaction(async (tx) => {
        const [row] = await tx.query(`SELECT ${INVOICE_COLS} FROM billing.invoices WHERE tenant_id = $1 AND id = $2 FOR UPDATE`, [tenant, invoiceId]);
        if (!row) return null;
        const current = issued(row);
        if (current.status !== 'ISSUED') throw new BillingRuleViolation('BILLING.INVOICE_NOT_OPEN', `Invoice "${invoiceId}" is ${current.status}`);
        const due = BigInt(current.amount.amountMinor) - BigInt(current.amountPaid.amountMinor);
        if (BigInt(amountMinor) > due) throw new BillingRuleViolation('BILLING.OVERPAYMENT', `Payment exceeds the ${due} due`);
        const [p] = await tx.query(
          `INSERT INTO billing.payments (tenant_id, id, invoice_id, amount_minor, currency) VALUES ($1, $2, $3, $4, $5)
           RETURNING id, invoice_id, amount_minor, currency, received_at`,
          [tenant, newId('bpay'), invoiceId, amountMinor, current.amount.currency],
        );
        const [updated] = await tx.query(
          `UPDATE billing.invoices SET amount_paid_minor = amount_paid_minor + $3,
             status = CASE WHEN amount_paid_minor + $3 >= amount_minor THEN 'PAID' ELSE status END, updated_at = now()
           WHERE tenant_id = $1 AND id = $2 RETURNING ${INVOICE_COLS}`,
          [tenant, invoiceId, amountMinor],
        );
        if (!p || !updated) throw new Error('payment insert returned no row');
        const result = { invoice: issued(updated), payment: payment(p) };
        await hooks?.paymentRecorded(tx, result.payment);
        return result;
      });
    },
  };
}
