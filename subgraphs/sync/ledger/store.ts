import type { Db, Queryable, Row } from '../../../lib/db/db';
import { int, iso, isoOrNull, str, strOrNull } from '../../../lib/db/rows';
import { Where, listSql } from '../../../lib/db/sql';
import type { JobKind, SystemName } from '../../../lib/outbox';
import type { Page } from '../../../lib/pagination';
import type { SeedLink } from '../../../lib/seed/random';
import { enqueueSyncJob } from '../../../lib/outbox';
import type { JobState, ReconciliationModel, SyncEventModel, SyncJobFilter, SyncJobModel } from './models';
import type { AuditEntryRow, Ledger } from './port';
import { type ScopedMessage, publicText, storedParts } from '../../../lib/scoped-message';

const JOB_COLS = `id, tenant_id, kind, entity_type, entity_id, source_system, target_system, state, attempts, max_attempts, next_run_at,
  last_error_code, last_error_message, last_error_parts, correlation_id, idempotency_key, payload, result, created_at, updated_at, trace_context`;
export const EVENT_COLS = 'seq, tenant_id, job_id, kind, entity_type, entity_id, target_system, state, attempts, error_code, message, message_parts, correlation_id, at';

export function job(r: Row): SyncJobModel {
  return {
    id: str(r['id']), tenant: str(r['tenant_id']), kind: str(r['kind']) as JobKind, entityType: str(r['entity_type']),
    entityId: str(r['entity_id']), sourceSystem: str(r['source_system']) as SystemName,
    targetSystem: strOrNull(r['target_system']) as SystemName | null, state: str(r['state']) as JobState,
    attempts: int(r['attempts']), maxAttempts: int(r['max_attempts']), nextRunAt: isoOrNull(r['next_run_at']),
    lastErrorCode: strOrNull(r['last_error_code']), lastErrorMessage: strOrNull(r['last_error_message']),
    lastErrorParts: r['last_error_parts'] ?? null, correlationId: str(r['correlation_id']), idempotencyKey: str(r['idempotency_key']),
    payload: (r['payload'] as Record<string, unknown> | null) ?? {}, result: strOrNull(r['result']),
    createdAt: iso(r['created_at']), updatedAt: iso(r['updated_at']), traceparent: strOrNull(r['trace_context']),
  };
}

export function event(r: Row): SyncEventModel {
  return {
    eventId: str(r['seq']), tenant: str(r['tenant_id']), jobId: strOrNull(r['job_id']), kind: str(r['kind']) as SyncEventModel['kind'],
    entityType: str(r['entity_type']), entityId: str(r['entity_id']), targetSystem: strOrNull(r['target_system']) as SystemName | null,
    state: str(r['state']) as JobState, attempts: int(r['attempts']), errorCode: strOrNull(r['error_code']),
    message: strOrNull(r['message']), messageParts: r['message_parts'] ?? null, correlationId: str(r['correlation_id']), at: iso(r['at']),
  };
}

export interface Transition {
  state: JobState;
  errorCode?: string | null;
  /** Plain text is public; a ScopedMessage is stored as its public text plus its classified parts. */
  message?: string | ScopedMessage | null;
  /** For FAILED: when the next attempt may run. */
  nextRunAt?: Date;
  result?: string | null;
  /** Reset the attempt counter (replay). */
  resetAttempts?: boolean;
}

/** Changes a job's state and records the change as an event, in one transaction. */
/** A message as stored: the text every reader may see, and the classified parts (null when nothing is guarded). */
interface StoredMessage {
  text: string | null;
  parts: string | null;
}

function stored(message: string | ScopedMessage | null | undefined): StoredMessage {
  if (message === null || message === undefined) return { text: null, parts: null };
  if (typeof message === 'string') return { text: message, parts: null };
  const parts = storedParts(message);
  return { text: publicText(message), parts: parts ? JSON.stringify(parts) : null };
}

export async function transition(tx: Queryable, jobId: string, t: Transition): Promise<SyncJobModel | null> {
  const message = stored(t.message);
  const rows = await tx.query(
    `UPDATE sync.jobs SET state = $2, last_error_code = COALESCE($3, CASE WHEN $2 IN ('PENDING', 'SUCCEEDED') THEN NULL ELSE last_error_code END),
       last_error_message = COALESCE($4, CASE WHEN $2 IN ('PENDING', 'SUCCEEDED') THEN NULL ELSE last_error_message END),
       last_error_parts = CASE WHEN $4::text IS NOT NULL THEN $8::jsonb WHEN $2 IN ('PENDING', 'SUCCEEDED') THEN NULL ELSE last_error_parts END,
       next_run_at = COALESCE($5, next_run_at), result = COALESCE($6, result),
       attempts = CASE WHEN $7 THEN 0 ELSE attempts END,
       locked_by = CASE WHEN $2 = 'RUNNING' THEN locked_by ELSE NULL END,
       locked_until = CASE WHEN $2 = 'RUNNING' THEN locked_until ELSE NULL END,
       updated_at = now()
     WHERE id = $1 RETURNING ${JOB_COLS}`,
    [jobId, t.state, t.errorCode ?? null, message.text, t.nextRunAt ?? null, t.result ?? null, t.resetAttempts ?? false, message.parts],
  );
  const row = rows[0];
  if (!row) return null;
  const j = job(row);
  await recordEvent(tx, j, t.errorCode ?? null, message);
  if (j.targetSystem) await updateLinkState(tx, j, message);
  return j;
}

/** Keeps `syncStatus` (Account, Invoice, ...) in step with the entity's latest sync job per target system. */
async function updateLinkState(tx: Queryable, j: SyncJobModel, message: StoredMessage): Promise<void> {
  const state = j.state === 'SUCCEEDED' ? 'IN_SYNC' : j.state === 'DEAD_LETTERED' ? 'FAILED' : 'PENDING';
  const failed = state === 'FAILED';
  await tx.query(
    `INSERT INTO sync.links (tenant_id, entity_type, entity_id, system, state, last_synced_at, last_error, last_error_parts)
     VALUES ($1, $2, $3, $4, $5, CASE WHEN $5 = 'IN_SYNC' THEN now() END, $6, $7::jsonb)
     ON CONFLICT (tenant_id, entity_type, entity_id, system) DO UPDATE SET state = EXCLUDED.state,
       last_synced_at = COALESCE(EXCLUDED.last_synced_at, sync.links.last_synced_at), last_error = EXCLUDED.last_error,
       last_error_parts = EXCLUDED.last_error_parts, updated_at = now()`,
    [j.tenant, j.entityType, j.entityId, j.targetSystem, state, failed ? message.text : null, failed ? message.parts : null],
  );
}

async function recordEvent(tx: Queryable, j: SyncJobModel, errorCode: string | null, message: StoredMessage): Promise<void> {
  await tx.query(
    `INSERT INTO sync.events (tenant_id, job_id, kind, entity_type, entity_id, target_system, state, attempts, error_code, message, message_parts, correlation_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12)`,
    [j.tenant, j.id, j.kind, j.entityType, j.entityId, j.targetSystem, j.state, j.attempts, errorCode, message.text, message.parts, j.correlationId],
  );
}

/**
 * Claims the next runnable job for this worker: PENDING or FAILED and due, or RUNNING with an expired lock (its
 * worker died). SKIP LOCKED lets many workers poll one table without ever taking the same job.
 */
export async function claimNext(db: Db, workerId: string, lockSeconds: number): Promise<SyncJobModel | null> {
  return db.transaction(async (tx) => {
    // Two index-backed candidates instead of one OR (which scans the whole queue): the next due job, else a job
    // whose worker died (RUNNING with an expired lock).
    const rows = await tx.query(
      `UPDATE sync.jobs SET state = 'RUNNING', attempts = attempts + 1, locked_by = $1,
         locked_until = now() + make_interval(secs => $2), updated_at = now()
       WHERE id = COALESCE(
         (SELECT id FROM sync.jobs WHERE state IN ('PENDING', 'FAILED') AND next_run_at <= now() ORDER BY next_run_at LIMIT 1 FOR UPDATE SKIP LOCKED),
         (SELECT id FROM sync.jobs WHERE state = 'RUNNING' AND locked_until < now() ORDER BY locked_until LIMIT 1 FOR UPDATE SKIP LOCKED))
       RETURNING ${JOB_COLS}`,
      [workerId, lockSeconds],
    );
    const row = rows[0];
    if (!row) return null;
    const j = job(row);
    await recordEvent(tx, j, null, stored(null));
    return j;
  });
}

/** The tenants the ledger knows (links or connections): whom the scheduled reconciliation visits. */
export async function ledgerTenants(db: Db): Promise<string[]> {
  const rows = await db.query<{ tenant_id: string }>('SELECT tenant_id FROM sync.links UNION SELECT tenant_id FROM sync.connections ORDER BY 1');
  return rows.map((r) => r.tenant_id);
}

/** The ledger's port over its own tables, bound to one tenant. */
export function ledger(db: Db, tenant: string): Ledger {
  return {
    async jobByIdempotencyKey(key: string): Promise<SyncJobModel | null> {
      const [row] = await db.query(`SELECT ${JOB_COLS} FROM sync.jobs WHERE tenant_id = $1 AND idempotency_key = $2`, [tenant, key]);
      return row ? job(row) : null;
    },
    /** The audit log, newest first, `limit + 1` rows from before `beforeId`. */
    async auditEntries(beforeId: string | null, limit: number): Promise<AuditEntryRow[]> {
      const rows = await db.query<{ id: string; principal: string; token_kind: string; operation_name: string | null; fields: string[]; arguments: unknown; outcome: string; error_codes: string[]; correlation_id: string; at: Date }>(
        `SELECT id::text, principal, token_kind, operation_name, fields, arguments, outcome, error_codes, correlation_id, at FROM sync.audit_log
         WHERE tenant_id = $1 AND ($2::bigint IS NULL OR id < $2::bigint) ORDER BY id DESC LIMIT $3`,
        [tenant, beforeId, limit + 1],
      );
      return rows.map((r) => ({
        id: r.id, principal: r.principal, tokenKind: r.token_kind, operationName: r.operation_name, fields: r.fields,
        arguments: r.arguments, outcome: r.outcome, errorCodes: r.error_codes, correlationId: r.correlation_id, at: new Date(r.at).toISOString(),
      }));
    },
    async latestReconciliation(): Promise<ReconciliationModel | null> {
      const [row] = await db.query<{ id: string; started_at: Date; finished_at: Date | null; accounts_checked: number; drift: ReconciliationModel['drift'] }>(
        'SELECT id, started_at, finished_at, accounts_checked, drift FROM sync.reconciliations WHERE tenant_id = $1 ORDER BY started_at DESC LIMIT 1',
        [tenant],
      );
      if (!row) return null;
      return { id: row.id, startedAt: new Date(row.started_at).toISOString(), finishedAt: row.finished_at ? new Date(row.finished_at).toISOString() : null, accountsChecked: row.accounts_checked, drift: row.drift };
    },
    async jobsByIds(ids: readonly string[]): Promise<SyncJobModel[]> {
      return (await db.query(`SELECT ${JOB_COLS} FROM sync.jobs WHERE tenant_id = $1 AND id = ANY($2::text[])`, [tenant, ids])).map(job);
    },
    async listJobs(filter: SyncJobFilter, page: Page): Promise<SyncJobModel[]> {
      const w = new Where([tenant]);
      if (filter.states?.length) w.add((p) => `state = ANY(${p}::text[])`, filter.states);
      if (filter.kinds?.length) w.add((p) => `kind = ANY(${p}::text[])`, filter.kinds);
      if (filter.entityId) w.add((p) => `entity_id = ${p}`, filter.entityId);
      if (filter.targetSystem) w.add((p) => `target_system = ${p}`, filter.targetSystem);
      if (filter.correlationId) w.add((p) => `correlation_id = ${p}`, filter.correlationId);
      return (await db.query(listSql('sync.jobs', JOB_COLS, w, page), w.params)).map(job);
    },
    /** State histories of many jobs in one statement, in order. An event not relayed yet has eventId 0. */
    async historiesByJobs(jobIds: readonly string[]): Promise<SyncEventModel[]> {
      const rows = await db.query(
        `SELECT COALESCE(seq, 0) AS seq, ${EVENT_COLS.replace('seq, ', '')} FROM sync.events
         WHERE tenant_id = $1 AND job_id = ANY($2::text[]) ORDER BY id`,
        [tenant, jobIds],
      );
      return rows.map(event);
    },
    /** Sequenced job events after `afterSeq`, oldest first: what a resuming subscriber missed. */
    async eventsAfter(afterSeq: string, limit: number): Promise<SyncEventModel[]> {
      return (await db.query(
        `SELECT ${EVENT_COLS} FROM sync.events WHERE tenant_id = $1 AND seq > $2 AND job_id IS NOT NULL ORDER BY seq LIMIT $3`,
        [tenant, afterSeq, limit],
      )).map(event);
    },
    /** Sequenced business status events of the given kinds after `afterSeq`, oldest first. */
    async statusEventsAfter(afterSeq: string, kinds: readonly string[], limit: number): Promise<SyncEventModel[]> {
      return (await db.query(
        `SELECT ${EVENT_COLS} FROM sync.events WHERE tenant_id = $1 AND seq > $2 AND job_id IS NULL AND kind = ANY($3::text[]) ORDER BY seq LIMIT $4`,
        [tenant, afterSeq, kinds, limit],
      )).map(event);
    },
    /** Sync status per system of these entities of one type (`Account`, `Invoice`, `BillingSubscription`). */
    async linksByEntities(entityType, entityIds) {
      const rows = await db.query(
        `SELECT entity_id, system, state, last_synced_at, last_error, last_error_parts FROM sync.links WHERE tenant_id = $1 AND entity_type = $2 AND entity_id = ANY($3::text[])
         ORDER BY entity_id, system`,
        [tenant, entityType, entityIds],
      );
      return rows.map((r) => ({
        entityId: str(r['entity_id']), system: str(r['system']) as SystemName, state: str(r['state']),
        lastSyncedAt: isoOrNull(r['last_synced_at']), lastError: strOrNull(r['last_error']), lastErrorParts: r['last_error_parts'] ?? null,
      }));
    },
    async recordLink(entityId, system, remoteId) {
      await db.query(
        `INSERT INTO sync.links (tenant_id, entity_type, entity_id, system, remote_id, state) VALUES ($1, 'Account', $2, $3, $4, 'PENDING')
         ON CONFLICT (tenant_id, entity_type, entity_id, system) DO UPDATE SET remote_id = EXCLUDED.remote_id, updated_at = now()`,
        [tenant, entityId, system, remoteId],
      );
    },
    async recordReconciliation(report, correlationId) {
      await db.transaction(async (tx) => {
        for (const d of report.drift.filter((x) => x.repairQueued && x.entityType === 'Account')) {
          await enqueueSyncJob(tx, {
            tenant, kind: 'ACCOUNT_UPSERT', entityType: 'Account', entityId: d.entityId, sourceSystem: 'CRM', targetSystem: d.system,
            correlationId, idempotencyKey: `repair:${report.id}:${d.entityId}:${d.system}`,
          });
          await tx.query(`UPDATE sync.links SET state = 'DRIFTED', updated_at = now() WHERE tenant_id = $1 AND entity_type = 'Account' AND entity_id = $2 AND system = $3`, [tenant, d.entityId, d.system]);
        }
        await tx.query(
          `INSERT INTO sync.reconciliations (id, tenant_id, started_at, finished_at, accounts_checked, drift) VALUES ($1, $2, $3, now(), $4, $5)`,
          [report.id, tenant, report.startedAt, report.accountsChecked, JSON.stringify(report.drift)],
        );
      });
    },
  };
}

export type { Ledger } from './port';

/** Seeded systems start in sync: the seed's links go in IN_SYNC (the ledger's part of seeding a tenant). */
export async function seedLedgerLinks(tx: Queryable, tenant: string, links: readonly SeedLink[]): Promise<void> {
  await tx.query(
    `INSERT INTO sync.links (tenant_id, entity_type, entity_id, system, remote_id, state, last_synced_at)
     SELECT $1, 'Account', l.entity_id, l.system, l.remote_id, 'IN_SYNC', l.updated_at
     FROM unnest($2::text[], $3::text[], $4::text[], $5::timestamptz[]) AS l (entity_id, system, remote_id, updated_at)
     ON CONFLICT DO NOTHING`,
    [tenant, links.map((l) => l.accountId), links.map((l) => l.system), links.map((l) => l.remoteId), links.map((l) => l.updatedAt)],
  );
}
