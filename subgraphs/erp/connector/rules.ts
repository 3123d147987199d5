import { RuleViolation } from './errors';
import type { InvoiceModel } from './models';

/**
 * The invoice state rules of the ERP port, as pure checks: the reference store applies them under its row lock, and
 * the mirror + vendor port (sync/remote/erp.ts) before it calls the vendor, so both refuse with the same errors.
 */

/** Only a DRAFT invoice can be posted. */
export function assertPostable(current: InvoiceModel): void {
  if (current.status !== 'DRAFT') {
    throw new RuleViolation('ERP.INVOICE_NOT_DRAFT', `Invoice "${current.id}" is ${current.status}; only DRAFT invoices can be posted`);
  }
}

/** A DRAFT invoice, or a POSTED one without payments, can be voided. */
export function assertVoidable(current: InvoiceModel): void {
  if (current.status === 'VOID') throw new RuleViolation('ERP.INVOICE_ALREADY_VOID', `Invoice "${current.id}" is already VOID`);
  if (current.status === 'PAID') throw new RuleViolation('ERP.INVOICE_PAID', `Invoice "${current.id}" is PAID and cannot be voided`);
  // Payments are the only thing that lowers the amount due of a POSTED invoice.
  if (current.amountDue.amountMinor !== current.total.amountMinor) {
    throw new RuleViolation('ERP.INVOICE_HAS_PAYMENTS', `Invoice "${current.id}" has payments applied and cannot be voided`);
  }
}
