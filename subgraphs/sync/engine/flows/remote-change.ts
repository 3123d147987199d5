import { createHash } from 'node:crypto';
import type { RemoteObjectKind } from '../../../billing/connector/remote-port';
import type { ConnectionRuntime } from '../../connections/runtime';
import type { SyncJobModel } from '../../ledger/models';
import { remoteLinks } from '../../remote/links';
import { applyVendorChange } from '../../remote/inbound';
import type { Db } from '../../../../lib/db/db';
import { PermanentError, TransientError } from '../errors';
import type { SystemsFor } from '../systems';

/** Records whose changes we apply; events about others are stored (and acknowledged) but start no job. */
export const SYNCED_KINDS: readonly RemoteObjectKind[] = ['invoice', 'subscription'];

/** What a stored vendor event enqueues: which record of which connection changed (never the record itself). */
export interface RemoteChangePayload {
  connectionId: string;
  eventId: string;
  type: string;
  objectKind: RemoteObjectKind;
  remoteId: string;
}

/**
 * A vendor said a record changed (webhook or poll). Events are hints delivered at least once and in any order, so the
 * job re-reads the record by id and applies its current state; each effect is idempotent (a payment id derived from
 * the vendor invoice id), so the same event twice, or two events of one record in any order, have one effect.
 * - invoice paid -> the payment is applied in the ERP to the invoice it bills (cash debit, receivables credit);
 * - subscription canceled -> the mirror's subscription is canceled (its status event goes out like any other).
 */
export function remoteChangeFlow(db: Db, systems: SystemsFor, connections: ConnectionRuntime | undefined) {
  return async (job: SyncJobModel): Promise<string> => {
    const p = job.payload as unknown as RemoteChangePayload;
    const connection = connections ? await connections.store.byId(p.connectionId) : null;
    if (!connections || !connection || connection.tenant !== job.tenant) throw new PermanentError('CONNECTION_NOT_FOUND', `Connection "${p.connectionId}" does not exist`);
    // A vendor CRM or ERP (HubSpot, Odoo): its own rules, in remote/inbound.ts.
    if (connection.system !== 'BILLING') return applyVendorChange(db, job.tenant, job.correlationId, connections, connection, p);
    const remote = await connections.billingRemote(connection);
    if (!remote) throw new PermanentError('CONNECTION_NOT_REMOTE', `Connection "${p.connectionId}" has no remote billing system`);
    const sys = systems(job.tenant, job.correlationId);
    const links = remoteLinks(db, job.tenant, connection.id);
    switch (p.objectKind) {
      case 'invoice': {
        const invoice = await remote.retrieveInvoice(p.remoteId);
        if (!invoice) return `invoice ${p.remoteId} no longer exists at the vendor`;
        if (invoice.status !== 'PAID') return `invoice ${p.remoteId} is ${invoice.status}: nothing to apply`;
        const invoiceId = invoice.canonicalId ?? (await links.canonicalId('Invoice', invoice.remoteId));
        if (!invoiceId) return `invoice ${p.remoteId} was not raised by us: not applied`;
        const [erpInvoice] = await sys.erp.invoicesByIds([invoiceId]);
        if (!erpInvoice || erpInvoice.status === 'DRAFT') throw new TransientError('INVOICE_NOT_POSTED', `ERP invoice "${invoiceId}" is not posted yet`);
        const payment = await sys.erp.recordPayment({
          id: `pay_${createHash('sha256').update(`${job.tenant}|${connection.id}|${invoice.remoteId}`).digest('hex').slice(0, 32)}`,
          accountId: erpInvoice.accountId,
          amount: invoice.amountPaid,
          method: connection.adapter,
          reference: invoice.remoteId,
          invoiceIds: [invoiceId],
        });
        return `ERP payment ${payment.id} applied to ${invoiceId}`;
      }
      case 'subscription': {
        const sub = await remote.retrieveSubscription(p.remoteId);
        if (!sub) return `subscription ${p.remoteId} no longer exists at the vendor`;
        const id = sub.canonicalId ?? (await links.canonicalId('BillingSubscription', sub.remoteId));
        if (!id) return `subscription ${p.remoteId} was not created by us: not mirrored`;
        if (sub.status === 'CANCELED') await sys.billing.cancelSubscription(id, false);
        return `subscription ${id} is ${sub.status} at the vendor`;
      }
      default:
        return `${p.type} is not synced`;
    }
  };
}
