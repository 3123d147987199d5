import type { SystemName } from '../outbox';
import type { Queryable } from './db';
import { isoOrNull, str } from './rows';

export interface LinkedRef {
  entityId: string;
  system: SystemName;
  remoteId: string;
  remoteUpdatedAt: string | null;
}

/** Reads `<schema>.external_ids` (the ids a record has in the other systems) for many entities of one tenant. */
export async function externalIdsOf(db: Queryable, schema: 'crm' | 'erp' | 'billing', tenant: string, ids: readonly string[]): Promise<LinkedRef[]> {
  const rows = await db.query(
    `SELECT entity_id, system, remote_id, remote_updated_at FROM ${schema}.external_ids WHERE tenant_id = $1 AND entity_id = ANY($2::text[])`,
    [tenant, ids],
  );
  return rows.map((r) => ({
    entityId: str(r['entity_id']), system: str(r['system']) as SystemName, remoteId: str(r['remote_id']), remoteUpdatedAt: isoOrNull(r['remote_updated_at']),
  }));
}
