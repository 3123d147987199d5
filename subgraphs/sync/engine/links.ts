import type { Db } from '../../../lib/db/db';
import type { SystemName } from '../../../lib/outbox';
import type { CrmConnector } from '../../crm/connector/port';
import { ledger } from '../ledger/store';

/**
 * Records the id an account has in a target system: on the CRM record (externalIds, through the CRM port) and in the
 * ledger's sync status (through the ledger's port).
 */
export async function recordLink(
  db: Db,
  crm: CrmConnector,
  tenant: string,
  entityId: string,
  system: SystemName,
  ref: { remoteId: string; updatedAt: string },
): Promise<void> {
  await crm.recordExternalId(entityId, { system, remoteId: ref.remoteId, remoteUpdatedAt: ref.updatedAt });
  await ledger(db, tenant).recordLink(entityId, system, ref.remoteId);
}
