import type { SystemName } from '../../../lib/outbox';
import type { Page } from '../../../lib/pagination';
import type { ReconciliationModel, SyncEventModel, SyncJobFilter, SyncJobModel } from './models';

export interface AuditEntryRow {
  id: string; principal: string; tokenKind: string; operationName: string | null; fields: string[];
  /** As stored (`{ <response name>: { <argument>: value } }`), for every reader: shown by its scopes (audit-arguments.ts). */
  arguments: unknown;
  outcome: string; errorCodes: string[]; correlationId: string; at: string;
}

/** The sync state of one account in one target system (`sync.links`). */
export interface SyncLinkModel {
  entityId: string;
  system: SystemName;
  state: string;
  lastSyncedAt: string | null;
  lastError: string | null;
  /** The classified parts of `lastError` (lib/scoped-message.ts), shown by the reader's scopes. */
  lastErrorParts: unknown;
}

/**
 * The sync ledger's own port, bound to one tenant: jobs, their histories, events, links, reconciliation reports and the
 * audit log. Only the ledger's tables (`sync.*`) are behind it; the systems of record are reached through their own
 * connector ports, never from here.
 */
export interface Ledger {
  jobByIdempotencyKey(key: string): Promise<SyncJobModel | null>;
  /** The audit log, newest first, `limit + 1` rows from before `beforeId`. */
  auditEntries(beforeId: string | null, limit: number): Promise<AuditEntryRow[]>;
  latestReconciliation(): Promise<ReconciliationModel | null>;
  jobsByIds(ids: readonly string[]): Promise<SyncJobModel[]>;
  listJobs(filter: SyncJobFilter, page: Page): Promise<SyncJobModel[]>;
  /** State histories of many jobs in one statement, in order. An event not relayed yet has eventId 0. */
  historiesByJobs(jobIds: readonly string[]): Promise<SyncEventModel[]>;
  /** Sequenced job events after `afterSeq`, oldest first: what a resuming subscriber missed. */
  eventsAfter(afterSeq: string, limit: number): Promise<SyncEventModel[]>;
  /** Sequenced business status events of the given kinds after `afterSeq`, oldest first. */
  statusEventsAfter(afterSeq: string, kinds: readonly string[], limit: number): Promise<SyncEventModel[]>;
  /** Sync status per system of these entities of one type (`Account`, `Invoice`, `BillingSubscription`). */
  linksByEntities(entityType: string, entityIds: readonly string[]): Promise<SyncLinkModel[]>;
  /** An account exists in `system` under `remoteId` (state PENDING until its job settles). */
  recordLink(entityId: string, system: SystemName, remoteId: string): Promise<void>;
  /**
   * Stores a reconciliation report; in the same transaction, each drift item with `repairQueued` enqueues its repair
   * job (one key per report, so repairs never double) and marks its link DRIFTED.
   */
  recordReconciliation(report: ReconciliationModel, correlationId: string): Promise<void>;
}
