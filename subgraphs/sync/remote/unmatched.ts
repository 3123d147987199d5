import type { Db } from '../../../lib/db/db';
import { enqueueSyncJob } from '../../../lib/outbox';
import type { ConnectionModel } from '../connections/models';

/** A vendor record seen but not mirrored (its parent, e.g. an invoice's partner, is linked to nothing of ours). */
export interface UnmatchedRecord {
  kind: string;
  remoteId: string;
  parentRemoteId: string | null;
  reason: string;
  seenAt: string;
}

/**
 * `sync.remote_unmatched` of one connection: what polling read but could not mirror, so it is not lost. Reconciliation
 * reports each one (and re-reads it); linking its parent re-reads it at once.
 */
export function unmatchedRecords(db: Db, connection: ConnectionModel) {
  return {
    async record(kind: string, remoteId: string, parentRemoteId: string | null, reason: string): Promise<void> {
      await db.query(
        `INSERT INTO sync.remote_unmatched (connection_id, kind, remote_id, tenant_id, parent_remote_id, reason) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (connection_id, kind, remote_id) DO UPDATE SET parent_remote_id = EXCLUDED.parent_remote_id, reason = EXCLUDED.reason, seen_at = now()`,
        [connection.id, kind, remoteId, connection.tenant, parentRemoteId, reason],
      );
    },
    async clear(kind: string, remoteId: string): Promise<void> {
      await db.query('DELETE FROM sync.remote_unmatched WHERE connection_id = $1 AND kind = $2 AND remote_id = $3 AND tenant_id = $4', [connection.id, kind, remoteId, connection.tenant]);
    },
    async list(limit = 1000): Promise<UnmatchedRecord[]> {
      const rows = await db.query<{ kind: string; remote_id: string; parent_remote_id: string | null; reason: string; seen_at: Date | string }>(
        `SELECT kind, remote_id, parent_remote_id, reason, seen_at FROM sync.remote_unmatched WHERE connection_id = $1 AND tenant_id = $2 ORDER BY kind, remote_id LIMIT ${limit}`,
        [connection.id, connection.tenant],
      );
      return rows.map((r) => ({ kind: r.kind, remoteId: r.remote_id, parentRemoteId: r.parent_remote_id, reason: r.reason, seenAt: new Date(r.seen_at).toISOString() }));
    },
    /**
     * Queues a forced re-read of each unmatched record (of `parentRemoteId` only, when given), keyed by `cause` so one
     * cause queues each once. Returns how many were queued.
     */
    async requeue(cause: string, correlationId: string, parentRemoteId?: string): Promise<number> {
      const rows = await db.query<{ kind: string; remote_id: string }>(
        `SELECT kind, remote_id FROM sync.remote_unmatched WHERE connection_id = $1 AND tenant_id = $2 AND ($3::text IS NULL OR parent_remote_id = $3) ORDER BY kind, remote_id`,
        [connection.id, connection.tenant, parentRemoteId ?? null],
      );
      if (rows.length === 0) return 0;
      return db.transaction(async (tx) => {
        let queued = 0;
        for (const r of rows) {
          const key = `${cause}:${r.kind}:${r.remote_id}`;
          const id = await enqueueSyncJob(tx, {
            tenant: connection.tenant, kind: 'REMOTE_CHANGE', entityType: r.kind, entityId: r.remote_id, sourceSystem: connection.system, targetSystem: null,
            correlationId, idempotencyKey: key,
            payload: { connectionId: connection.id, eventId: key, type: `${r.kind}.unmatched`, objectKind: r.kind, remoteId: r.remote_id, force: true },
          });
          if (id) queued++;
        }
        return queued;
      });
    },
  };
}
