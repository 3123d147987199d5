import type { Db } from '../../../lib/db/db';
import { newId } from '../../../lib/db/rows';
import { enqueueSyncJob } from '../../../lib/outbox';
import type { DriftItemModel, ReconciliationModel } from '../ledger/models';
import type { SystemsFor } from './systems';
import { idPage } from '../../../lib/pagination';

const CHUNK = 500;

/**
 * Compares the systems for one tenant: every CRM account must exist as ERP and billing customer with the name CRM
 * owns, and every invoice billing links to must exist in the ERP. Drift is stored as a report; where the owning
 * system is clear (CRM owns the account) a repair job is queued, with a key per report so repairs never double.
 */
export async function reconcileTenant(db: Db, systems: SystemsFor, tenant: string, correlationId: string): Promise<ReconciliationModel> {
  const sys = systems(tenant);
  const id = newId('rec');
  const startedAt = new Date().toISOString();
  const drift: DriftItemModel[] = [];
  let checked = 0;
  let after: string | null = null;
  for (;;) {
    const accounts = await sys.crm.listAccounts({}, idPage(CHUNK, after));
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
  const orphans = await db.query<{ invoice_id: string }>(
    `SELECT l.invoice_id FROM billing.invoice_links l LEFT JOIN erp.invoices i ON i.tenant_id = l.tenant_id AND i.id = l.invoice_id
     WHERE l.tenant_id = $1 AND i.id IS NULL`,
    [tenant],
  );
  for (const o of orphans) drift.push({ entityType: 'Invoice', entityId: o.invoice_id, system: 'ERP', kind: 'MISSING', field: null, expected: o.invoice_id, actual: null, repairQueued: false });

  await db.transaction(async (tx) => {
    for (const d of drift.filter((x) => x.repairQueued)) {
      await enqueueSyncJob(tx, {
        tenant, kind: 'ACCOUNT_UPSERT', entityType: 'Account', entityId: d.entityId, sourceSystem: 'CRM', targetSystem: d.system,
        correlationId, idempotencyKey: `repair:${id}:${d.entityId}:${d.system}`,
      });
      await tx.query(`UPDATE sync.links SET state = 'DRIFTED', updated_at = now() WHERE tenant_id = $1 AND entity_type = 'Account' AND entity_id = $2 AND system = $3`, [tenant, d.entityId, d.system]);
    }
    await tx.query(
      `INSERT INTO sync.reconciliations (id, tenant_id, started_at, finished_at, accounts_checked, drift) VALUES ($1, $2, $3, now(), $4, $5)`,
      [id, tenant, startedAt, checked, JSON.stringify(drift)],
    );
  });
  return { id, startedAt, finishedAt: new Date().toISOString(), accountsChecked: checked, drift };
}
