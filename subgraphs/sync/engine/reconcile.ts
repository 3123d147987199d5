import type { Db } from '../../../lib/db/db';
import { newId } from '../../../lib/db/rows';
import type { DriftItemModel, ReconciliationModel } from '../ledger/models';
import { ledger } from '../ledger/store';
import type { SystemsFor } from './systems';

const CHUNK = 500;

/**
 * Compares the systems for one tenant: every CRM account must exist as ERP and billing customer with the name CRM
 * owns, and every invoice billing links to must exist in the ERP. Drift is stored as a report; where the owning
 * system is clear (CRM owns the account) a repair job is queued, with a key per report so repairs never double.
 * Every system is read through its port and the report goes to the ledger's port: no SQL into any system here.
 */
export async function reconcileTenant(db: Db, systems: SystemsFor, tenant: string, correlationId: string): Promise<ReconciliationModel> {
  const sys = systems(tenant);
  const id = newId('rec');
  const startedAt = new Date().toISOString();
  const drift: DriftItemModel[] = [];
  let checked = 0;
  let after: string | null = null;
  for (;;) {
    const accounts = await sys.crm.listAccounts({}, { limit: CHUNK, afterId: after });
    const page = accounts.slice(0, CHUNK);
    if (page.length === 0) break;
    checked += page.length;
    const ids = page.map((a) => a.id);
    const erp = new Map((await sys.erp.accountsByIds(ids)).map((c) => [c.id, c]));
    const billing = new Map((await sys.billing.customersByIds(ids)).map((c) => [c.id, c]));
    for (const account of page) {
      const checks = [
        { system: 'ERP' as const, exists: erp.has(account.id), name: erp.get(account.id)?.name ?? null },
        { system: 'BILLING' as const, exists: billing.has(account.id), name: billing.get(account.id)?.name ?? null },
      ];
      for (const c of checks) {
        if (!c.exists) drift.push({ entityType: 'Account', entityId: account.id, system: c.system, kind: 'MISSING', field: null, expected: account.id, actual: null, repairQueued: true });
        else if (c.name !== account.name) drift.push({ entityType: 'Account', entityId: account.id, system: c.system, kind: 'FIELD_MISMATCH', field: 'name', expected: account.name, actual: c.name, repairQueued: true });
      }
    }
    if (accounts.length <= CHUNK) break;
    after = page[page.length - 1]?.id ?? null;
  }
  // Invoices billing says it billed must exist in the ERP; which side is wrong is not clear, so report only.
  for (let afterInvoice: string | null = null; ;) {
    const linked: string[] = await sys.billing.linkedInvoiceIds(afterInvoice, CHUNK);
    if (linked.length === 0) break;
    const known = new Set((await sys.erp.invoicesByIds(linked)).map((i) => i.id));
    for (const invoiceId of linked) {
      if (!known.has(invoiceId)) drift.push({ entityType: 'Invoice', entityId: invoiceId, system: 'ERP', kind: 'MISSING', field: null, expected: invoiceId, actual: null, repairQueued: false });
    }
    if (linked.length < CHUNK) break;
    afterInvoice = linked[linked.length - 1] ?? null;
  }

  const report: ReconciliationModel = { id, startedAt, finishedAt: new Date().toISOString(), accountsChecked: checked, drift };
  await ledger(db, tenant).recordReconciliation(report, correlationId);
  return report;
}
