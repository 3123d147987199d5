import { recordStatusEvent } from '../../lib/outbox';
import type { ErpWriteHooks } from './connector/reference-store';

/** ERP writes announce invoice status changes in the event ledger, in their own transaction. */
export function erpWriteHooks(tenant: string, correlationId: string): ErpWriteHooks {
  return {
    invoiceStatusChanged: (tx, invoiceId, status) =>
      recordStatusEvent(tx, { tenant, kind: 'INVOICE_STATUS', entityType: 'Invoice', entityId: invoiceId, state: status, system: 'ERP', correlationId }),
  };
}
