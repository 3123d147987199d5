import type { Db, Queryable } from '../../../lib/db/db';
import type { ChangePage } from '../../../lib/connectors/remote';
import { enqueueSyncJob } from '../../../lib/outbox';
import { CRM_KINDS, type CrmRemote } from '../../crm/connector/remote-port';
import type { ErpRemote } from '../../erp/connector/remote-port';
import type { ConnectionModel } from '../connections/models';
import type { ConnectionRuntime } from '../connections/runtime';
import { PermanentError } from '../engine/errors';
import type { SyncJobModel } from '../ledger/models';
import { applyCrmRecords } from './inbound-crm';
import { applyErpChange } from './inbound-erp';

/** Vendor records per page (HubSpot's batch read takes 100). */
const PAGE = 100;

export interface InitialSyncPayload { connectionId: string }
interface RemotePagePayload { connectionId: string; parentJobId: string; objectKind: string; remoteIds: string[] }

/** What an initial sync reads, in this order (accounts before the contacts, deals and invoices that refer to them). */
const KINDS: Record<'CRM' | 'ERP', readonly string[]> = { CRM: CRM_KINDS, ERP: ['customer', 'invoice'] };
const crmKind = (kind: string) => CRM_KINDS.find((k) => k === kind);

async function connectionOf(connections: ConnectionRuntime | undefined, job: SyncJobModel, connectionId: string): Promise<{ connections: ConnectionRuntime; connection: ConnectionModel }> {
  const connection = connections ? await connections.store.byId(connectionId) : null;
  if (!connections || !connection || connection.tenant !== job.tenant || !connection.enabled) throw new PermanentError('CONNECTION_NOT_FOUND', `Connection "${connectionId}" does not exist`);
  return { connections, connection };
}

async function remotesOf(connections: ConnectionRuntime, connection: ConnectionModel): Promise<{ crm: CrmRemote | null; erp: ErpRemote | null }> {
  return { crm: connection.system === 'CRM' ? await connections.crmRemote(connection) : null, erp: connection.system === 'ERP' ? await connections.erpRemote(connection) : null };
}

const cursorKind = (jobId: string, kind: string) => `initial:${jobId}:${kind}`;

/**
 * The initial sync of a newly connected vendor CRM/ERP: the parent job reads every record from the beginning, page by
 * page through the connection's Outbound (its rate limit), and queues one REMOTE_PAGE job per page, whose key is the
 * page's position, in the transaction that advances its own cursor (`sync.poll_cursors`, kind
 * `initial:<job>:<kind>`). A crash or a vendor failure mid-way retries the parent, which resumes after the last page
 * it queued: no page queued twice, none skipped. Once done, its cursors become the connection's polling cursors, so
 * polling continues where the initial read ended.
 */
export function initialSyncFlow(db: Db, connections: ConnectionRuntime | undefined) {
  return async (job: SyncJobModel): Promise<string> => {
    const p = job.payload as unknown as InitialSyncPayload;
    const { connection, connections: runtime } = await connectionOf(connections, job, p.connectionId);
    if (connection.system === 'BILLING') throw new PermanentError('NOT_SUPPORTED', 'initial sync of a billing vendor is not built');
    const { crm, erp } = await remotesOf(runtime, connection);
    const read = (kind: string, cursor: string | null): Promise<ChangePage<unknown>> => {
      const ofCrm = crmKind(kind);
      if (crm && ofCrm) return crm.changes(ofCrm, cursor, PAGE);
      if (erp && (kind === 'customer' || kind === 'invoice')) return erp.changes(kind, cursor, PAGE);
      throw new PermanentError('CONNECTION_NOT_REMOTE', `Connection "${connection.id}" cannot read ${kind}`);
    };
    const done: string[] = [];
    for (const kind of KINDS[connection.system]) {
      const key = cursorKind(job.id, kind);
      for (;;) {
        const [row] = await db.query<{ cursor: string; records_seen: string; finished_at: Date | null }>(
          'SELECT cursor, records_seen::text, finished_at FROM sync.poll_cursors WHERE connection_id = $1 AND kind = $2', [connection.id, key],
        );
        if (row?.finished_at) break;
        const seen = Number(row?.records_seen ?? 0);
        const page = await read(kind, row ? row.cursor : null);
        await db.transaction(async (tx) => {
          if (page.records.length > 0) {
            await enqueueSyncJob(tx, {
              tenant: job.tenant, kind: 'REMOTE_PAGE', entityType: kind, entityId: connection.id, sourceSystem: connection.system, targetSystem: null,
              correlationId: job.correlationId, idempotencyKey: `initial:${job.id}:${kind}:${seen}`,
              payload: { connectionId: connection.id, parentJobId: job.id, objectKind: kind, remoteIds: page.records.map((r) => r.remoteId) } satisfies RemotePagePayload,
            });
          }
          await advance(tx, connection, key, row?.cursor ?? null, page, !page.hasMore);
          await renewLease(tx, job.id);
        });
        if (!page.hasMore) break;
      }
      const [total] = await db.query<{ n: string; cursor: string }>('SELECT records_seen::text AS n, cursor FROM sync.poll_cursors WHERE connection_id = $1 AND kind = $2', [connection.id, key]);
      // Polling carries on from here (unless it already runs for this kind).
      await db.query(
        `INSERT INTO sync.poll_cursors (connection_id, kind, tenant_id, cursor) VALUES ($1, $2, $3, $4) ON CONFLICT (connection_id, kind) DO NOTHING`,
        [connection.id, kind, connection.tenant, total?.cursor ?? ''],
      );
      done.push(`${kind}: ${total?.n ?? 0} read`);
    }
    return `initial sync of ${connection.adapter}: ${done.join(', ')}`;
  };
}

/**
 * A read of thousands of pages outlives the worker's lock on the job (30 s by default), after which another worker
 * would take it as abandoned: each page committed extends the lock by its original length (set at the claim, with
 * `updated_at`). A worker that really died stops renewing, and its job is taken over as before.
 */
async function renewLease(tx: Queryable, jobId: string): Promise<void> {
  await tx.query(
    `UPDATE sync.jobs SET locked_until = now() + (locked_until - updated_at), updated_at = now() WHERE id = $1 AND state = 'RUNNING' AND locked_until > now()`,
    [jobId],
  );
}

/** Moves an initial sync's cursor compare-and-set (a second runner of the same job cannot move it twice). */
async function advance(tx: Queryable, connection: ConnectionModel, key: string, before: string | null, page: ChangePage<unknown>, finished: boolean): Promise<void> {
  const moved = before === null
    ? await tx.query(
      `INSERT INTO sync.poll_cursors (connection_id, kind, tenant_id, cursor, records_seen, finished_at) VALUES ($1, $2, $3, $4, $5, CASE WHEN $6 THEN now() END)
       ON CONFLICT DO NOTHING RETURNING 1`,
      [connection.id, key, connection.tenant, page.cursor, page.records.length, finished],
    )
    : await tx.query(
      `UPDATE sync.poll_cursors SET cursor = $4, records_seen = records_seen + $5, polled_at = now(), finished_at = CASE WHEN $6 THEN now() END
       WHERE connection_id = $1 AND kind = $2 AND tenant_id = $3 AND cursor = $7 RETURNING 1`,
      [connection.id, key, connection.tenant, page.cursor, page.records.length, finished, before],
    );
  // Rolls the page's job back with the cursor: whoever moved it queued that page.
  if (moved.length === 0) throw new PermanentError('INITIAL_SYNC_RACE', `the cursor of ${key} was moved by another runner`);
}

/** One page of an initial sync: its records read again in one batch and applied like any vendor change. */
export function remotePageFlow(db: Db, connections: ConnectionRuntime | undefined) {
  return async (job: SyncJobModel): Promise<string> => {
    const p = job.payload as unknown as RemotePagePayload;
    const { connection, connections: runtime } = await connectionOf(connections, job, p.connectionId);
    const { crm, erp } = await remotesOf(runtime, connection);
    let applied = 0;
    const ofCrm = crmKind(p.objectKind);
    if (crm && ofCrm) {
      // One batch read and (for records born there) one batch claim per page, not a round trip per record.
      const records = await crm.get(ofCrm, p.remoteIds);
      applied = (await applyCrmRecords(db, job.tenant, job.correlationId, connection, crm, ofCrm, records)).length;
    } else if (erp && (p.objectKind === 'customer' || p.objectKind === 'invoice')) {
      for (const id of p.remoteIds) {
        await applyErpChange(db, job.tenant, job.correlationId, connection, erp, p.objectKind, id);
        applied++;
      }
    } else {
      throw new PermanentError('CONNECTION_NOT_REMOTE', `Connection "${connection.id}" cannot apply ${p.objectKind}`);
    }
    return `${applied} of ${p.remoteIds.length} ${p.objectKind} records applied`;
  };
}

export interface InitialSyncProgress { seen: number; written: number; failed: number; finished: boolean }

/** An initial sync's progress in records: read (its cursors), applied and failed (its page jobs). */
export async function initialSyncProgress(db: Db, tenant: string, jobId: string): Promise<InitialSyncProgress> {
  const [read] = await db.query<{ seen: string; open: string }>(
    `SELECT coalesce(sum(records_seen), 0)::text AS seen, count(*) FILTER (WHERE finished_at IS NULL)::text AS open
     FROM sync.poll_cursors WHERE tenant_id = $1 AND kind LIKE $2`, [tenant, `initial:${jobId}:%`],
  );
  const [pages] = await db.query<{ written: string; failed: string }>(
    `SELECT coalesce(sum(jsonb_array_length(payload->'remoteIds')) FILTER (WHERE state = 'SUCCEEDED'), 0)::text AS written,
            coalesce(sum(jsonb_array_length(payload->'remoteIds')) FILTER (WHERE state = 'DEAD_LETTERED'), 0)::text AS failed
     FROM sync.jobs WHERE tenant_id = $1 AND kind = 'REMOTE_PAGE' AND payload->>'parentJobId' = $2`, [tenant, jobId],
  );
  const [parent] = await db.query<{ state: string }>('SELECT state FROM sync.jobs WHERE tenant_id = $1 AND id = $2', [tenant, jobId]);
  return { seen: Number(read?.seen ?? 0), written: Number(pages?.written ?? 0), failed: Number(pages?.failed ?? 0), finished: parent?.state === 'SUCCEEDED' && read?.open === '0' };
}
