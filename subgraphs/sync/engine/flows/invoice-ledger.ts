import { createHash } from 'node:crypto';
import type { Db } from '../../../../lib/db/db';
import type { SyncJobModel } from '../../ledger/models';
import { ensureErpCustomer } from '../customers';
import { PermanentError, TransientError } from '../errors';
import type { SystemsFor } from '../systems';

/**
 * Invoice to ledger: an invoice billing issued is created in the ERP under the same canonical id and posted as a
 * receivable (the ERP writes the balanced journal entry: debit receivables, credit revenue). Creating with a known
 * id and posting only a DRAFT make a retry after a crash a no-op.
 */
export function invoicePostFlow(db: Db, systems: SystemsFor) {
  return async (job: SyncJobModel): Promise<string> => {
    const sys = systems(job.tenant, job.correlationId);
    const [invoice] = await sys.billing.issuedInvoicesByIds([job.entityId]);
    if (!invoice) throw new PermanentError('SOURCE_NOT_FOUND', `Billing invoice "${job.entityId}" does not exist`);
    const customer = await ensureErpCustomer(db, sys, job.tenant, invoice.accountId);
    if (customer.currency && customer.currency !== invoice.amount.currency) {
      throw new PermanentError('CURRENCY_MISMATCH', `ERP customer is billed in ${customer.currency}, the invoice in ${invoice.amount.currency}`);
    }
    const [billingCustomer] = await sys.billing.customersByIds([invoice.accountId]);
    const draft = await sys.erp.createInvoice({
      id: invoice.id,
      accountId: invoice.accountId,
      currency: invoice.amount.currency,
      lines: [{ description: `Subscription ${invoice.subscriptionId}, ${invoice.periodStart} to ${invoice.periodEnd}`, quantity: 1, unitPriceMinor: invoice.amount.amountMinor }],
      taxRateBps: 0,
      // Billing owns payment terms.
      dueInDays: billingCustomer?.paymentTermsDays ?? 30,
    });
    const posted = draft.status === 'DRAFT' ? await sys.erp.postInvoice(draft.id) : draft;
    return `ERP invoice ${posted.number} ${posted.status}`;
  };
}

/**
 * A payment billing collected is applied in the ERP to the same invoice (cash debit, receivables credit); the ERP
 * invoice turns PAID when nothing is due, as the billing invoice did. The ERP payment id is derived from the billing
 * payment id, so a retry returns the first payment instead of applying it twice.
 */
export function paymentApplyFlow(systems: SystemsFor) {
  return async (job: SyncJobModel): Promise<string> => {
    const sys = systems(job.tenant, job.correlationId);
    const [payment] = await sys.billing.billingPaymentsByIds([job.entityId]);
    if (!payment) throw new PermanentError('SOURCE_NOT_FOUND', `Billing payment "${job.entityId}" does not exist`);
    const [erpInvoice] = await sys.erp.invoicesByIds([payment.invoiceId]);
    // The invoice's own sync job has not run yet: wait for it rather than fail.
    if (!erpInvoice || erpInvoice.status === 'DRAFT') throw new TransientError('INVOICE_NOT_POSTED', `ERP invoice "${payment.invoiceId}" is not posted yet`);
    const erpPayment = await sys.erp.recordPayment({
      id: `pay_${createHash('sha256').update(`${job.tenant}|${payment.id}`).digest('hex').slice(0, 32)}`,
      accountId: erpInvoice.accountId,
      amount: payment.amount,
      method: 'billing',
      reference: payment.id,
      invoiceIds: [payment.invoiceId],
    });
    const [after] = await sys.erp.invoicesByIds([payment.invoiceId]);
    return `ERP payment ${erpPayment.id} applied; invoice ${after?.status ?? 'unknown'}`;
  };
}
