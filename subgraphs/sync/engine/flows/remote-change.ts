import { createHash } from 'node:crypto';
import type { RemoteObjectKind } from '../../../billing/connector/remote-port';
import type { ConnectionRuntime } from '../../connections/runtime';
import type { SyncJobModel } from '../../ledger/models';
import { remoteLinks } from '../../remote/links';
import { applyVendorChange } from '../../remote/inbound';
import { applyBillingCustomer } from '../../remote/inbound-billing-customer';
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
 * job re-reads the record by id and applies its current state; each effect is idempotent (an ERP payment id derived
 * from each vendor payment's id), so the same event twice, or two events of one record in any order, have one effect.
 * - invoice (partly) paid -> each of its vendor payments is applied in the ERP to the invoice it bills (cash debit,
 *   receivables credit), once per vendor payment; not an invoice our billing API settled (its payments are ours);
 * - subscription canceled -> the mirror's subscription is canceled (its status event goes out like any other);
 * - customer (for a connection mapping its metadata) -> mapped metadata applied to the account.
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
        if (invoice.amountPaid.amountMinor === '0') return `invoice ${p.remoteId} is ${invoice.status} with nothing paid: nothing to apply`;
        const invoiceId = invoice.canonicalId ?? (await links.canonicalId('Invoice', invoice.remoteId));
        if (!invoiceId) return `invoice ${p.remoteId} was not raised by us: not applied`;
        // Paid through our billing API and settled at the vendor by us: the ERP got those payments from our records.
        if (await links.remoteId('InvoiceSettlement', invoiceId)) return `invoice ${p.remoteId} was settled out of band by our billing API: its payments reach the ERP from our records`;
        // Each vendor payment becomes one ERP payment (its id derived from the vendor payment's id), so an invoice
        // paid in parts is applied in parts, once each, and the ERP's paid total is the vendor's.
        const payments = (await remote.listInvoicePayments(invoice.remoteId)).filter((x) => x.status === 'PAID');
        const listed = payments.reduce((sum, x) => sum + BigInt(x.amount.amountMinor), 0n);
        if (listed !== BigInt(invoice.amountPaid.amountMinor)) {
          throw new TransientError('PAYMENTS_NOT_LISTED', `invoice ${p.remoteId}: ${invoice.amountPaid.amountMinor} paid, its payments list ${listed}`);
        }
        const [erpInvoice] = await sys.erp.invoicesByIds([invoiceId]);
        if (!erpInvoice || erpInvoice.status === 'DRAFT') throw new TransientError('INVOICE_NOT_POSTED', `ERP invoice "${invoiceId}" is not posted yet`);
        const applied: string[] = [];
        for (const payment of payments) {
          const recorded = await sys.erp.recordPayment({
            id: `pay_${createHash('sha256').update(`${job.tenant}|${connection.id}|${payment.remoteId}`).digest('hex').slice(0, 32)}`,
            accountId: erpInvoice.accountId,
            amount: payment.amount,
            method: connection.adapter,
            reference: invoice.remoteId,
            invoiceIds: [invoiceId],
          });
          applied.push(recorded.id);
        }
        return `ERP payments ${applied.join(', ')} applied to ${invoiceId} (${invoice.amountPaid.amountMinor} of ${invoice.total.amountMinor} paid)`;
      }
      case 'subscription': {
        const sub = await remote.retrieveSubscription(p.remoteId);
        if (!sub) return `subscription ${p.remoteId} no longer exists at the vendor`;
        const id = sub.canonicalId ?? (await links.canonicalId('BillingSubscription', sub.remoteId));
        if (!id) return `subscription ${p.remoteId} was not created by us: not mirrored`;
        if (sub.status === 'CANCELED') await sys.billing.cancelSubscription(id, false);
        return `subscription ${id} is ${sub.status} at the vendor`;
      }
      case 'customer':
        // Only connections that map customer metadata enqueue these (webhooks.ts, and the resync of a mapping change).
        return applyBillingCustomer(db, job.tenant, job.correlationId, connection, remote, p.remoteId);
      default:
        return `${p.type} is not synced`;
    }
  };
}
