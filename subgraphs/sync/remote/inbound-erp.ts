import { createHash } from 'node:crypto';
import type { Db } from '../../../lib/db/db';
import type { JsonObject } from '../../../lib/connectors/remote';
import { enqueueSyncJob } from '../../../lib/outbox';
import { erpReferenceStore } from '../../erp/connector/reference-store';
import { erpWriteHooks } from '../../erp/hooks';
import type { ErpKind, ErpRemote } from '../../erp/connector/remote-port';
import type { ConnectionModel } from '../connections/models';
import { crmReferenceStore } from '../../crm/connector/reference-store';
import { alreadyApplied, remoteLinks } from './links';

const derivedId = (prefix: string, ...parts: readonly string[]) => `${prefix}_${createHash('sha256').update(parts.join('|')).digest('hex').slice(0, 32)}`;

/**
 * A record changed in the tenant's vendor ERP (Odoo; seen by polling): re-read by id and applied to the mirror, by
 * field ownership. The ERP owns posting, payments and credit: an invoice posted, paid (fully or in part) or cancelled
 * there is posted, paid or voided in the mirror, whose status events go out on the live stream; a credit limit set
 * there is the mirror's. The CRM owns the customer's name: a different name in the ERP is drift, reported on the
 * account's link (DRIFTED) and repaired by an account upsert that writes the CRM's name back. Every effect is keyed by
 * the vendor's state (a payment id derived from the invoice and its amount due), so re-reading changes nothing.
 */
export async function applyErpChange(
  db: Db, tenant: string, correlationId: string, connection: ConnectionModel, remote: ErpRemote, kind: ErpKind, remoteId: string, force = false,
): Promise<string> {
  const links = remoteLinks(db, tenant, connection.id);
  const mirror = erpReferenceStore(db, tenant, erpWriteHooks(tenant, correlationId));
  switch (kind) {
    case 'customer': {
      const [record] = await remote.get('customer', [remoteId]);
      if (!record) return `customer ${remoteId} no longer exists at ${remote.vendor}`;
      const known = await links.byRemoteId('Customer', remoteId);
      const id = record.canonicalId ?? known?.canonicalId;
      if (!id) return `customer ${remoteId} is not linked to an account: not synced`;
      if (alreadyApplied(record, known)) return `customer ${remoteId}: version ${record.remoteUpdatedAt} already applied`;
      const done: string[] = [];
      const [ours] = await mirror.accountsByIds([id]);
      const limit = record.fields.creditLimit;
      // Only a limit changed in the ERP since the version we hold: a limit set through our API is not undone by an
      // unrelated edit of the partner there.
      const limitChanged = !known?.remoteData || JSON.stringify(record.remoteData['credit_limit']) !== JSON.stringify(known.remoteData['credit_limit']);
      if (ours && limit && limitChanged && limit.currency === ours.currency && limit.amountMinor !== ours.creditLimit?.amountMinor) {
        await mirror.setCreditLimit(id, limit, null);
        done.push(`credit limit ${limit.amountMinor} ${limit.currency} applied`);
      }
      const [account] = await crmReferenceStore(db, tenant).accountsByIds([id]);
      if (account && account.name !== record.fields.name) {
        await db.transaction(async (tx) => {
          await enqueueSyncJob(tx, {
            tenant, kind: 'ACCOUNT_UPSERT', entityType: 'Account', entityId: id, sourceSystem: 'CRM', targetSystem: 'ERP', correlationId,
            idempotencyKey: `drift:${connection.id}:${remoteId}:${record.remoteUpdatedAt}`,
          });
          await tx.query(`UPDATE sync.links SET state = 'DRIFTED', updated_at = now() WHERE tenant_id = $1 AND entity_type = 'Account' AND entity_id = $2 AND system = 'ERP'`, [tenant, id]);
        });
        done.push(`drift: name "${record.fields.name}" at ${remote.vendor}, "${account.name}" in the CRM (which owns it); repair queued`);
      }
      await links.record('Customer', id, remoteId, record.remoteUpdatedAt, record.remoteData as JsonObject);
      return `customer ${id}: ${done.join('; ') || 'nothing to apply'}`;
    }
    case 'invoice': {
      const [record] = await remote.get('invoice', [remoteId]);
      if (!record) return `invoice ${remoteId} no longer exists at ${remote.vendor}`;
      const known = await links.byRemoteId('Invoice', remoteId);
      const id = record.canonicalId ?? known?.canonicalId;
      if (!id) return `invoice ${remoteId} was not raised through us: not mirrored`;
      if (!force && alreadyApplied(record, known)) return `invoice ${remoteId}: version ${record.remoteUpdatedAt} already applied`;
      const [ours] = await mirror.invoicesByIds([id]);
      if (!ours) return `invoice ${id} is not in the mirror yet: its own job will create it`;
      const theirs = record.fields;
      const done: string[] = [];
      if (theirs.status === 'VOID' && ours.status !== 'VOID') {
        await mirror.voidInvoice(id, `cancelled in ${remote.vendor}`);
        done.push('voided');
      } else if (theirs.status !== 'DRAFT' && theirs.status !== 'VOID') {
        let current = ours;
        if (current.status === 'DRAFT') {
          current = await mirror.postInvoice(id);
          done.push('posted');
        }
        const paid = BigInt(current.amountDue.amountMinor) - BigInt(theirs.amountDue.amountMinor);
        if (paid > 0n && theirs.amountDue.currency === current.amountDue.currency) {
          // One payment per amount due reached at the vendor: the same state read twice is the same payment.
          const payment = await mirror.recordPayment({
            id: derivedId('pay', tenant, connection.id, remoteId, theirs.amountDue.amountMinor),
            accountId: current.accountId, amount: { amountMinor: paid.toString(), currency: current.amountDue.currency },
            method: remote.vendor, reference: `${remote.vendor}:${remoteId}`, invoiceIds: [id],
          });
          done.push(`payment ${payment.id} of ${paid} ${current.amountDue.currency} applied`);
        }
      }
      await links.record('Invoice', id, remoteId, record.remoteUpdatedAt, record.remoteData as JsonObject);
      return `invoice ${id}: ${done.join(', ') || 'nothing to apply'}`;
    }
    case 'payment':
      // Payments reach the mirror through the invoices they settle (their amount due); a payment alone changes nothing of ours.
      return `payment ${remoteId}: applied through its invoices`;
  }
}
