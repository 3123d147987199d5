import type { Queryable } from '../../../lib/db/db';
import type { SystemName } from '../../../lib/outbox';

/** Records the id an account has in a target system: on the CRM record (externalIds) and in the sync status. */
export async function recordLink(
  db: Queryable,
  tenant: string,
  entityId: string,
  system: SystemName,
  ref: { remoteId: string; updatedAt: string },
): Promise<void> {
  await db.query(
    `INSERT INTO crm.external_ids (tenant_id, entity_id, system, remote_id, remote_updated_at) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (tenant_id, entity_id, system) DO UPDATE SET remote_id = EXCLUDED.remote_id, remote_updated_at = EXCLUDED.remote_updated_at`,
    [tenant, entityId, system, ref.remoteId, ref.updatedAt],
  );
  await db.query(
    `INSERT INTO sync.links (tenant_id, entity_type, entity_id, system, remote_id, state) VALUES ($1, 'Account', $2, $3, $4, 'PENDING')
     ON CONFLICT (tenant_id, entity_type, entity_id, system) DO UPDATE SET remote_id = EXCLUDED.remote_id, updated_at = now()`,
    [tenant, entityId, system, ref.remoteId],
  );
}
