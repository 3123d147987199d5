import type { Queryable } from '../../lib/db/db';
import { enqueueSyncJob, recordStatusEvent } from '../../lib/outbox';
import type { BillingWriteHooks } from './connector/invoicing';

/**
 * Billing writes and their consequences commit together: issued invoices and collected payments enqueue their ERP
 * sync jobs (invoice to ledger), subscription status changes go to the event ledger.
 */
export function billingWriteHooks(tenant: string, correlationId: string): BillingWriteHooks {
  const enqueue = (tx: Queryable, kind: 'INVOICE_POST' | 'PAYMENT_APPLY', entityType: string, entityId: string, payload: Record<string, unknown>) =>
    enqueueSyncJob(tx, {
      tenant, kind, entityType, entityId, sourceSystem: 'BILLING', targetSystem: 'ERP', correlationId,
      idempotencyKey: `${kind.toLowerCase()}:${entityId}`, payload,
    });
  return {
    invoiceIssued: async (tx, invoice) => void (await enqueue(tx, 'INVOICE_POST', 'Invoice', invoice.id, {})),
    paymentRecorded: async (tx, payment) => void (await enqueue(tx, 'PAYMENT_APPLY', 'Payment', payment.id, { invoiceId: payment.invoiceId })),
    subscriptionStatusChanged: (tx, id, status) =>
      recordStatusEvent(tx, { tenant, kind: 'SUBSCRIPTION_STATUS', entityType: 'BillingSubscription', entityId: id, state: status, system: 'BILLING', correlationId }),
  };
}
