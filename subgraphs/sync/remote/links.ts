import type { Db } from '../../../lib/db/db';

export type RemoteEntity = 'Customer' | 'Plan' | 'Price' | 'BillingSubscription' | 'Invoice';

/** The vendor ids of our records for one connection (`sync.remote_links`): part of the ledger's own port. */
export function remoteLinks(db: Db, tenant: string, connectionId: string) {
  return {
    async remoteId(type: RemoteEntity, canonicalId: string): Promise<string | null> {
      const [row] = await db.query<{ remote_id: string }>(
        'SELECT remote_id FROM sync.remote_links WHERE connection_id = $1 AND entity_type = $2 AND canonical_id = $3 AND tenant_id = $4',
        [connectionId, type, canonicalId, tenant],
      );
      return row?.remote_id ?? null;
    },
    async canonicalId(type: RemoteEntity, remoteId: string): Promise<string | null> {
      const [row] = await db.query<{ canonical_id: string }>(
        'SELECT canonical_id FROM sync.remote_links WHERE connection_id = $1 AND entity_type = $2 AND remote_id = $3 AND tenant_id = $4',
        [connectionId, type, remoteId, tenant],
      );
      return row?.canonical_id ?? null;
    },
    /**
     * Records the vendor id of one of our records. A subscription or invoice written to the vendor is then in sync
     * there: its `syncStatus` shows BILLING IN_SYNC with the time (one statement, so the two never disagree).
     */
    async record(type: RemoteEntity, canonicalId: string, remoteId: string, remoteUpdatedAt: string | null): Promise<void> {
      await db.query(
        `WITH link AS (
           INSERT INTO sync.remote_links (connection_id, entity_type, canonical_id, tenant_id, remote_id, remote_updated_at) VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (connection_id, entity_type, canonical_id) DO UPDATE SET remote_id = EXCLUDED.remote_id, remote_updated_at = EXCLUDED.remote_updated_at
         )
         INSERT INTO sync.links (tenant_id, entity_type, entity_id, system, remote_id, state, last_synced_at)
         SELECT $4, $2, $3, 'BILLING', $5, 'IN_SYNC', now() WHERE $2 IN ('BillingSubscription', 'Invoice')
         ON CONFLICT (tenant_id, entity_type, entity_id, system) DO UPDATE SET remote_id = EXCLUDED.remote_id, state = 'IN_SYNC',
           last_synced_at = now(), last_error = NULL, updated_at = now()`,
        [connectionId, type, canonicalId, tenant, remoteId, remoteUpdatedAt],
      );
    },
  };
}

export type RemoteLinks = ReturnType<typeof remoteLinks>;
