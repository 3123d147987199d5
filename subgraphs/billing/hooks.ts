import type { Queryable } from '../../lib/db/db';
import { newId } from '../../lib/db/rows';
import { enqueueRemotePush, enqueueSyncJob, recordStatusEvent } from '../../lib/outbox';
import type { BillingWriteHooks } from './connector/invoicing';

export interface BillingHookOptions {
  /**
   * Writes made through the billing API are pushed to the tenant's remote billing system (Stripe) by a REMOTE_PUSH
   * job committed with the write. The sync engine's own writes (quote-to-cash) reach the vendor inside their job
   * already, so they leave this off.
   * @default false
   */
  pushToRemote?: boolean;
}

/**
 * Billing writes and their consequences commit together: issued invoices and collected payments enqueue their ERP
 * sync jobs (invoice to ledger), subscription status changes go to the event ledger, and for a tenant on a remote
 * billing system each subscription write, issued invoice and recorded payment enqueues its push.
 */
export function billingWriteHooks(tenant: string, correlationId: string, options: BillingHookOptions = {}): BillingWriteHooks {
  const enqueue = (tx: Queryable, kind: 'INVOICE_POST' | 'PAYMENT_APPLY', entityType: string, entityId: string, payload: Record<string, unknown>) =>
    enqueueSyncJob(tx, {
      tenant, kind, entityType, entityId, sourceSystem: 'BILLING', targetSystem: 'ERP', correlationId,
      idempotencyKey: `${kind.toLowerCase()}:${entityId}`, payload,
    });
  /** A REMOTE_PUSH of one billing record to the tenant's remote billing system, when it has one (same transaction). */
  const push = (tx: Queryable, entityType: string, entityId: string, idempotencyKey: string, payload: Record<string, unknown>) =>
    enqueueRemotePush(tx, 'BILLING', {
      tenant, kind: 'REMOTE_PUSH', entityType, entityId, sourceSystem: 'BILLING', targetSystem: 'BILLING', correlationId, idempotencyKey, payload,
    });
  return {
    invoiceIssued: async (tx, invoice) => {
      await enqueue(tx, 'INVOICE_POST', 'Invoice', invoice.id, {});
      if (options.pushToRemote) await push(tx, 'Invoice', invoice.id, `remote-push:${invoice.id}:issued`, { change: 'ISSUED' });
    },
    paymentRecorded: async (tx, payment) => {
      await enqueue(tx, 'PAYMENT_APPLY', 'Payment', payment.id, { invoiceId: payment.invoiceId });
      if (options.pushToRemote) await push(tx, 'Payment', payment.id, `remote-push:${payment.id}:recorded`, { invoiceId: payment.invoiceId });
    },
    subscriptionStatusChanged: (tx, id, status) =>
      recordStatusEvent(tx, { tenant, kind: 'SUBSCRIPTION_STATUS', entityType: 'BillingSubscription', entityId: id, state: status, system: 'BILLING', correlationId }),
    ...(options.pushToRemote && {
      subscriptionWritten: async (tx, id, change) =>
        // One create per subscription (the only job allowed to create it at the vendor); every later write its own job.
        void (await push(tx, 'BillingSubscription', id, change === 'CREATED' ? `remote-push:${id}:created` : `remote-push:${id}:${newId('w')}`, { change })),
    }),
  };
}
