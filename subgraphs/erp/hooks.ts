import { newId } from '../../lib/db/rows';
import { enqueueRemotePush, recordStatusEvent } from '../../lib/outbox';
import type { ErpWriteHooks } from './connector/reference-store';

export interface ErpHookOptions {
  /**
   * Writes made through the ERP API are pushed to the tenant's remote ERP (Odoo) by a REMOTE_PUSH job committed with
   * the write. The sync engine's own writes reach the vendor inside their job already (or came from it), so they
   * leave this off.
   * @default false
   */
  pushToRemote?: boolean;
}

/**
 * ERP writes announce invoice status changes in the event ledger, in their own transaction; for a tenant on a remote
 * ERP each write of the ERP API also enqueues its push there.
 */
export function erpWriteHooks(tenant: string, correlationId: string, options: ErpHookOptions = {}): ErpWriteHooks {
  return {
    invoiceStatusChanged: (tx, invoiceId, status) =>
      recordStatusEvent(tx, { tenant, kind: 'INVOICE_STATUS', entityType: 'Invoice', entityId: invoiceId, state: status, system: 'ERP', correlationId }),
    ...(options.pushToRemote && {
      written: async (tx, record) =>
        void (await enqueueRemotePush(tx, 'ERP', {
          tenant, kind: 'REMOTE_PUSH', entityType: record.type, entityId: record.id, sourceSystem: 'ERP', targetSystem: 'ERP', correlationId,
          // Each write its own job; every job pushes the record's current state, so order and repeats do not matter.
          // Only the job of an invoice's create may create it at the vendor (Odoo has no idempotency key, so two jobs
          // creating at once could make two): a later write's job waits, retrying, until it exists.
          idempotencyKey: record.type === 'Invoice' && record.created ? `remote-push:Invoice:${record.id}:created` : `remote-push:${record.type}:${record.id}:${newId('w')}`,
          payload: record.type === 'Invoice' && record.created ? { mayCreate: true } : {},
        })),
    }),
  };
}
