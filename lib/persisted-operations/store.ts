import type { Db, Queryable } from '../db/db';
import { iso, str } from '../db/rows';
import type { RegisteredOperation } from './manifest';

/** A partner's registered list, as the gateway matches requests against it. */
export interface PartnerOperationList {
  partner: string;
  registeredAt: string;
  registeredBy: string;
  operations: RegisteredOperation[];
}

/**
 * Replaces the partner's list with `operations` (a manifest is always the whole list: what it no longer holds is no
 * longer allowed), in one transaction. An empty list is a list: the partner may then send nothing.
 */
export async function registerPartnerOperations(
  db: Db,
  tenant: string,
  partner: string,
  operations: readonly RegisteredOperation[],
  registeredBy: string,
  /**
   * Writes the registration to the audit log in the same transaction. For callers outside the gateway (the CLI): a
   * registration through the gateway's mutation is already audited there.
   */
  audit?: { source: string; correlationId: string },
): Promise<PartnerOperationList> {
  return db.transaction(async (tx) => {
    if (audit) {
      await tx.query(
        `INSERT INTO sync.audit_log (tenant_id, principal, token_kind, operation_name, fields, arguments, outcome, error_codes, correlation_id)
         VALUES ($1, $2, 'cli', $3, $4, $5, 'SUCCEEDED', '{}', $6)`,
        [tenant, registeredBy, audit.source, ['registerPartnerOperations'],
          JSON.stringify({ partner, manifest: { operations: operations.map(({ id, name, type }) => ({ id, name, type })) } }), audit.correlationId],
      );
    }
    await tx.query('DELETE FROM sync.partner_operation_lists WHERE tenant_id = $1 AND partner = $2', [tenant, partner]);
    await tx.query('INSERT INTO sync.partner_operation_lists (tenant_id, partner, registered_by) VALUES ($1, $2, $3)', [tenant, partner, registeredBy]);
    if (operations.length > 0) {
      await tx.query(
        `INSERT INTO sync.partner_operations (tenant_id, partner, id, name, type, body, normalized_hash)
         SELECT $1, $2, * FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[])`,
        [tenant, partner, operations.map((o) => o.id), operations.map((o) => o.name), operations.map((o) => o.type), operations.map((o) => o.body), operations.map((o) => o.normalizedHash)],
      );
    }
    const list = await readList(tx, tenant, partner);
    if (!list) throw new Error('registered list vanished inside its transaction');
    return list;
  });
}

/** The partner's list in this tenant, or null when it has none. */
export function partnerOperationList(db: Queryable, tenant: string, partner: string): Promise<PartnerOperationList | null> {
  return readList(db, tenant, partner);
}

/** Every partner list of the tenant (admin view), by partner. */
export async function partnerOperationLists(db: Queryable, tenant: string): Promise<PartnerOperationList[]> {
  const rows = await db.query('SELECT partner FROM sync.partner_operation_lists WHERE tenant_id = $1 ORDER BY partner', [tenant]);
  const lists = await Promise.all(rows.map((r) => readList(db, tenant, str(r['partner']))));
  return lists.filter((l): l is PartnerOperationList => l !== null);
}

async function readList(db: Queryable, tenant: string, partner: string): Promise<PartnerOperationList | null> {
  const [head] = await db.query('SELECT registered_at, registered_by FROM sync.partner_operation_lists WHERE tenant_id = $1 AND partner = $2', [tenant, partner]);
  if (!head) return null;
  const ops = await db.query(
    'SELECT id, name, type, body, normalized_hash FROM sync.partner_operations WHERE tenant_id = $1 AND partner = $2 ORDER BY id',
    [tenant, partner],
  );
  return {
    partner,
    registeredAt: iso(head['registered_at']),
    registeredBy: str(head['registered_by']),
    operations: ops.map((r) => ({
      id: str(r['id']), name: str(r['name']), type: str(r['type']) as RegisteredOperation['type'], body: str(r['body']), normalizedHash: str(r['normalized_hash']),
    })),
  };
}
