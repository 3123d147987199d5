import type { Db } from '../../../lib/db/db';
import { enqueueSyncJob } from '../../../lib/outbox';
import type { ConnectionRuntime } from '../connections/runtime';
import type { Systems } from '../engine/systems';
import type { DriftItemModel } from '../ledger/models';
import { canonicalErpInvoiceId } from './inbound-erp';
import { unmatchedRecords } from './unmatched';

const CHUNK = 100;

/**
 * Amounts of the invoices a tenant's vendor ERP (Odoo) holds for ours, against the mirror: currency, total and amount
 * due. The ERP owns payments, so an invoice the vendor shows as paid further than the mirror is repaired by re-reading
 * it (a forced REMOTE_CHANGE, which applies the difference as a payment); any other difference (a total that differs,
 * less paid at the vendor, an invoice gone there) has no clear owner and is reported only. Vendor invoices kept as
 * unmatched (their partner is linked to none of our accounts) are MISSING, re-read each time.
 */
export async function vendorInvoiceDrift(
  db: Db, sys: Systems, connections: ConnectionRuntime | undefined, tenant: string, reportId: string, correlationId: string,
): Promise<DriftItemModel[]> {
  const connection = connections ? await connections.connectionFor(tenant, 'ERP') : null;
  const remote = connection && connections ? await connections.erpRemote(connection) : null;
  if (!connection || !remote) return [];
  const drift: DriftItemModel[] = [];
  const repairs: { remoteId: string }[] = [];
  for (let after = ''; ;) {
    const linked = await db.query<{ canonical_id: string; remote_id: string }>(
      `SELECT canonical_id, remote_id FROM sync.remote_links WHERE connection_id = $1 AND tenant_id = $2 AND entity_type = 'Invoice' AND canonical_id > $3
       ORDER BY canonical_id LIMIT ${CHUNK}`, [connection.id, tenant, after],
    );
    if (linked.length === 0) break;
    after = linked[linked.length - 1]!.canonical_id;
    const theirs = new Map((await remote.get('invoice', linked.map((l) => l.remote_id))).map((r) => [r.remoteId, r.fields]));
    const ours = new Map((await sys.erp.invoicesByIds(linked.map((l) => l.canonical_id))).map((i) => [i.id, i]));
    for (const l of linked) {
      const t = theirs.get(l.remote_id);
      const o = ours.get(l.canonical_id);
      const item = (field: string | null, expected: string | null, actual: string | null, repairQueued = false): DriftItemModel =>
        ({ entityType: 'Invoice', entityId: l.canonical_id, system: 'ERP', kind: field ? 'AMOUNT_MISMATCH' : 'MISSING', field, expected, actual, repairQueued });
      if (!o) continue;
      if (!t) {
        drift.push(item(null, l.remote_id, null));
        continue;
      }
      if (t.currency !== o.currency) drift.push(item('currency', o.currency, t.currency));
      else if (t.total.amountMinor !== o.total.amountMinor) drift.push(item('total', o.total.amountMinor, t.total.amountMinor));
      if (t.currency === o.currency && t.amountDue.amountMinor !== o.amountDue.amountMinor) {
        const paidThere = BigInt(t.amountDue.amountMinor) < BigInt(o.amountDue.amountMinor);
        drift.push(item('amountDue', o.amountDue.amountMinor, t.amountDue.amountMinor, paidThere));
        if (paidThere) repairs.push({ remoteId: l.remote_id });
      }
    }
    if (linked.length < CHUNK) break;
  }
  // Invoices raised at the vendor for partners linked to none of our accounts: reported, and re-read (which mirrors
  // them once their partner is linked).
  const unmatched = unmatchedRecords(db, connection);
  const waiting = (await unmatched.list()).filter((u) => u.kind === 'invoice');
  for (const u of waiting) {
    drift.push({
      entityType: 'Invoice', entityId: canonicalErpInvoiceId(connection.id, u.remoteId), system: 'ERP', kind: 'MISSING', field: 'account',
      expected: `${remote.vendor} invoice ${u.remoteId}`, actual: u.reason, repairQueued: true,
    });
  }
  if (waiting.length > 0) await unmatched.requeue(`repair:${reportId}`, correlationId);
  if (repairs.length > 0) {
    await db.transaction(async (tx) => {
      for (const r of repairs) {
        const key = `repair:${reportId}:${r.remoteId}`;
        await enqueueSyncJob(tx, {
          tenant, kind: 'REMOTE_CHANGE', entityType: 'invoice', entityId: r.remoteId, sourceSystem: 'ERP', targetSystem: null, correlationId, idempotencyKey: key,
          payload: { connectionId: connection.id, eventId: key, type: 'invoice.reconcile', objectKind: 'invoice', remoteId: r.remoteId, force: true },
        });
      }
    });
  }
  return drift;
}
