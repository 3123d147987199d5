import type { Queryable } from '../../../lib/db/db';
import type { SystemName } from '../../../lib/outbox';
import type { CrmConnector } from '../../crm/connector/port';

/**
 * Records the id an account has in a target system: on the CRM record (externalIds, through the CRM port) and in the
 * ledger's sync status (`sync.links`, the ledger's own table).
 */
export async function recordLink(
  db: Queryable,
  crm: CrmConnector,
  tenant: string,
  entityId: string,
  system: SystemName,
  ref: { remoteId: string; updatedAt: string; remoteData?: Record<string, unknown> },
): Promise<void> {
  await crm.recordExternalId(entityId, { system, remoteId: ref.remoteId, remoteUpdatedAt: ref.updatedAt, remoteData: ref.remoteData ?? null });
  await db.query(
    `INSERT INTO sync.links (tenant_id, entity_type, entity_id, system, remote_id, state) VALUES ($1, 'Account', $2, $3, $4, 'PENDING')
     ON CONFLICT (tenant_id, entity_type, entity_id, system) DO UPDATE SET remote_id = EXCLUDED.remote_id, updated_at = now()`,
    [tenant, entityId, system, ref.remoteId],
  );
}
