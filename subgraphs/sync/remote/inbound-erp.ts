import { createHash } from 'node:crypto';
import type { Db } from '../../../lib/db/db';
import type { JsonObject, RemoteRecord } from '../../../lib/connectors/remote';
import { type ErpReferenceStore, erpReferenceStore } from '../../erp/connector/reference-store';
import { erpWriteHooks } from '../../erp/hooks';
import type { ErpKind, ErpRemote, RemoteInvoiceFields } from '../../erp/connector/remote-port';
import type { ConnectionModel } from '../connections/models';
import { applyErpCustomer } from './inbound-erp-customer';
import { alreadyApplied, remoteLinks } from './links';
import { unmatchedRecords } from './unmatched';

const derivedId = (prefix: string, ...parts: readonly string[]) => `${prefix}_${createHash('sha256').update(parts.join('|')).digest('hex').slice(0, 32)}`;

/** The canonical id of an invoice born in the vendor ERP: derived from (connection, vendor id), so every re-read finds it. */
export function canonicalErpInvoiceId(connectionId: string, remoteId: string): string {
  return derivedId('inv', connectionId, remoteId);
}

/** Our ids (`inv_<hex>`, `bi_<hex>`...) as the adapter writes them into the vendor's `ref`; a customer's own reference text is not one. */
const OUR_ID = /^[a-z]{2,12}_[0-9a-f]{16,64}$/;

/**
 * A record changed in the tenant's vendor ERP (Odoo; seen by polling): re-read by id and applied to the mirror, by
 * field ownership. The ERP owns posting, payments and credit: an invoice posted, paid (fully or in part) or cancelled
 * there is posted, paid or voided in the mirror, whose status events go out on the live stream. Partners: see
 * `inbound-erp-customer.ts`. Every effect is keyed by the vendor's state (a payment id derived from the invoice and
 * its amount due), so re-reading changes nothing.
 */
export async function applyErpChange(
  db: Db, tenant: string, correlationId: string, connection: ConnectionModel, remote: ErpRemote, kind: ErpKind, remoteId: string, force = false,
): Promise<string> {
  const mirror = erpReferenceStore(db, tenant, erpWriteHooks(tenant, correlationId));
  switch (kind) {
    case 'customer': {
      const [record] = await remote.get('customer', [remoteId]);
      if (!record) return `customer ${remoteId} no longer exists at ${remote.vendor}`;
      return applyErpCustomer(db, tenant, correlationId, connection, remote, mirror, record, force);
    }
    case 'invoice': {
      const [record] = await remote.get('invoice', [remoteId]);
      if (!record) return `invoice ${remoteId} no longer exists at ${remote.vendor}`;
      return applyInvoice(db, tenant, connection, remote, mirror, record, force);
    }
    case 'payment':
      // Payments reach the mirror through the invoices they settle (their amount due); a payment alone changes nothing of ours.
      return `payment ${remoteId}: applied through its invoices`;
  }
}

/** An Odoo invoice: ours (linked, or our id in its `ref`) or born in Odoo (mirrored first), then its state applied. */
async function applyInvoice(
  db: Db, tenant: string, connection: ConnectionModel, remote: ErpRemote, mirror: ErpReferenceStore, record: RemoteRecord<RemoteInvoiceFields>, force: boolean,
): Promise<string> {
  const links = remoteLinks(db, tenant, connection.id);
  const remoteId = record.remoteId;
  const known = await links.byRemoteId('Invoice', remoteId);
  const ours = record.canonicalId && OUR_ID.test(record.canonicalId) ? record.canonicalId : null;
  const linkedId = known?.canonicalId ?? ours;
  const done: string[] = [];
  let id: string;
  if (linkedId) {
    if (!force && alreadyApplied(record, known)) return `invoice ${remoteId}: version ${record.remoteUpdatedAt} already applied`;
    id = linkedId;
  } else {
    // Born in the ERP (raised in Odoo's own UI): mirrored under an id derived from (connection, Odoo id).
    const imported = await importVendorInvoice(db, tenant, connection, remote, mirror, record);
    if (typeof imported === 'string') return imported;
    id = imported.id;
    if (imported.created) done.push(`mirrored from ${remote.vendor} as ${id}`);
  }
  const [current0] = await mirror.invoicesByIds([id]);
  if (!current0) return `invoice ${id} is not in the mirror yet: its own job will create it`;
  const theirs = record.fields;
  if (theirs.status === 'VOID' && current0.status !== 'VOID') {
    await mirror.voidInvoice(id, `cancelled in ${remote.vendor}`);
    done.push('voided');
  } else if (theirs.status !== 'DRAFT' && theirs.status !== 'VOID') {
    let current = current0;
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

/**
 * Mirrors an invoice raised in the vendor ERP, once it is posted (a draft there is still being written: its lines may
 * change, and posting it changes its `write_date`, so the poll reads it again). Its partner must be linked to one of
 * our accounts (by the link, or by our id in the partner's `ref`); otherwise it is kept in `sync.remote_unmatched`
 * (reported by reconciliation, re-read when the partner is linked) and a string says why.
 */
async function importVendorInvoice(
  db: Db, tenant: string, connection: ConnectionModel, remote: ErpRemote, mirror: ErpReferenceStore, record: RemoteRecord<RemoteInvoiceFields>,
): Promise<{ id: string; created: boolean } | string> {
  const f = record.fields;
  const remoteId = record.remoteId;
  const unmatched = unmatchedRecords(db, connection);
  if (f.status === 'DRAFT') return `invoice ${remoteId} is a draft at ${remote.vendor}: mirrored once posted`;
  const links = remoteLinks(db, tenant, connection.id);
  const partner = f.customerRemoteId || null;
  let accountId = partner ? await links.canonicalId('Customer', partner) : null;
  if (!accountId && partner) {
    const [p] = await remote.get('customer', [partner]);
    accountId = p?.canonicalId ?? null;
  }
  const [customer] = accountId ? await mirror.accountsByIds([accountId]) : [];
  if (!accountId || !customer) {
    const reason = `partner ${partner ?? '(none)'} is linked to no account of ours`;
    await unmatched.record('invoice', remoteId, partner, reason);
    return `invoice ${remoteId} (${f.number ?? 'no number'}, ${f.total.amountMinor} ${f.currency}): ${reason}: not mirrored, kept as unmatched (reported by reconciliation)`;
  }
  const id = canonicalErpInvoiceId(connection.id, remoteId);
  const [existing] = await mirror.invoicesByIds([id]);
  if (!existing) {
    if (f.status === 'VOID') return `invoice ${remoteId} was cancelled at ${remote.vendor} before we saw it posted: nothing to mirror`;
    const subtotal = BigInt(f.subtotal.amountMinor);
    await mirror.importInvoice({
      id, accountId, remoteId: `${remote.vendor}:${remoteId}`, number: f.number ?? `${remote.vendor}:${remoteId}`, currency: f.currency,
      issueDate: f.issueDate, dueDate: f.dueDate,
      // Our quantities are whole numbers: a fractional one (2.5 hours) becomes one unit of the line's amount.
      lines: f.lines.map((l) => Number.isInteger(l.quantity)
        ? { description: l.description, quantity: l.quantity, unitPriceMinor: l.unitPrice.amountMinor, amountMinor: l.amount.amountMinor }
        : { description: `${l.description} (${l.quantity} x ${l.unitPrice.amountMinor})`, quantity: 1, unitPriceMinor: l.amount.amountMinor, amountMinor: l.amount.amountMinor }),
      // The vendor's total is what is owed; its tax is whatever the total holds beyond the lines.
      subtotalMinor: subtotal.toString(), taxMinor: (BigInt(f.total.amountMinor) - subtotal).toString(), totalMinor: f.total.amountMinor,
    });
  }
  await unmatched.clear('invoice', remoteId);
  return { id, created: !existing };
}
