import type { Queryable } from './db/db';
import { newId } from './db/rows';
import { currentTraceparent, traced } from './telemetry/tracing';

export type SystemName = 'CRM' | 'ERP' | 'BILLING';
export type JobKind = 'ACCOUNT_UPSERT' | 'QUOTE_TO_CASH' | 'RECONCILE_REPAIR' | 'INVOICE_POST' | 'PAYMENT_APPLY'
  /** A vendor told us (webhook or poll) that a record changed: re-read it by id and apply it. */
  | 'REMOTE_CHANGE'
  /** A write through our API to a system whose tenant is on a remote adapter: push the record's current state there. */
  | 'REMOTE_PUSH';

export interface OutboxJob {
  tenant: string;
  kind: JobKind;
  entityType: string;
  entityId: string;
  sourceSystem: SystemName;
  targetSystem: SystemName | null;
  correlationId: string;
  /** Same key, same job: a retried write that enqueues again creates nothing. */
  idempotencyKey: string;
  payload?: Record<string, unknown>;
  maxAttempts?: number;
}

/**
 * The transactional outbox: called with the transaction of the system-of-record write, so the change and its sync
 * job commit together or not at all. Returns the job id, or null when the idempotency key was already used.
 */
export function enqueueSyncJob(tx: Queryable, job: OutboxJob): Promise<string | null> {
  return traced('sync.outbox enqueue', () => ({ 'sor.job.kind': job.kind, 'sor.job.target': job.targetSystem ?? 'none' }), () => insertJob(tx, job));
}

/**
 * The outbox for writes a remote system of record must receive: enqueues only when the tenant's `system` is on a
 * vendor adapter (an enabled connection other than `reference`), read in the write's transaction, so a tenant on the
 * reference store gets no job at all. A remote system cannot join our transaction; the job is how it learns.
 */
export async function enqueueRemotePush(tx: Queryable, system: SystemName, job: OutboxJob): Promise<string | null> {
  const remote = await tx.query(
    `SELECT 1 FROM sync.connections WHERE tenant_id = $1 AND system = $2 AND enabled AND adapter <> 'reference'`,
    [job.tenant, system],
  );
  return remote.length > 0 ? enqueueSyncJob(tx, job) : null;
}

async function insertJob(tx: Queryable, job: OutboxJob): Promise<string | null> {
  // One statement (data-modifying CTEs): the job, its PENDING event and the link's PENDING state, or nothing at all
  // when the idempotency key was already used.
  const rows = await tx.query<{ id: string }>(
    `WITH job AS (
       INSERT INTO sync.jobs (id, tenant_id, kind, entity_type, entity_id, source_system, target_system, state, correlation_id, idempotency_key, payload, max_attempts, trace_context)
       VALUES ($1, $2, $3, $4, $5, $6, $7, 'PENDING', $8, $9, $10, $11, $12)
       ON CONFLICT (tenant_id, idempotency_key) DO NOTHING RETURNING id
     ), event AS (
       INSERT INTO sync.events (tenant_id, job_id, kind, entity_type, entity_id, target_system, state, attempts, correlation_id)
       SELECT $2, id, $3, $4, $5, $7, 'PENDING', 0, $8 FROM job
     ), link AS (
       INSERT INTO sync.links (tenant_id, entity_type, entity_id, system, state)
       SELECT $2, $4, $5, $7, 'PENDING' FROM job WHERE $7::text IS NOT NULL
       ON CONFLICT (tenant_id, entity_type, entity_id, system) DO UPDATE SET state = 'PENDING', updated_at = now()
     )
     SELECT id FROM job`,
    [newId('job'), job.tenant, job.kind, job.entityType, job.entityId, job.sourceSystem, job.targetSystem, job.correlationId,
      job.idempotencyKey, JSON.stringify(job.payload ?? {}), job.maxAttempts ?? 5,
      // The enqueuing span's traceparent (null with tracing off): the worker continues this trace.
      currentTraceparent()],
  );
  return rows[0]?.id ?? null;
}

export type StatusEventKind = 'INVOICE_STATUS' | 'SUBSCRIPTION_STATUS';

export interface StatusEvent {
  tenant: string;
  kind: StatusEventKind;
  entityType: 'Invoice' | 'BillingSubscription';
  entityId: string;
  /** The entity's new status. */
  state: string;
  system: SystemName;
  correlationId: string;
}

/** Records a business status change in the event ledger, in the transaction of the change (relayed like job events). */
export async function recordStatusEvent(tx: Queryable, e: StatusEvent): Promise<void> {
  await tx.query(
    `INSERT INTO sync.events (tenant_id, job_id, kind, entity_type, entity_id, target_system, state, attempts, correlation_id)
     VALUES ($1, NULL, $2, $3, $4, $5, $6, 0, $7)`,
    [e.tenant, e.kind, e.entityType, e.entityId, e.system, e.state, e.correlationId],
  );
}
