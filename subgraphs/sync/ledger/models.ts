import type { JobKind, StatusEventKind, SystemName } from '../../../lib/outbox';

export type JobState = 'PENDING' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'DEAD_LETTERED' | 'CANCELLED' | 'COMPENSATED';
export const REPLAYABLE_STATES: readonly JobState[] = ['DEAD_LETTERED', 'FAILED', 'CANCELLED', 'COMPENSATED'];

export interface SyncJobModel {
  id: string;
  tenant: string;
  kind: JobKind;
  entityType: string;
  entityId: string;
  sourceSystem: SystemName;
  targetSystem: SystemName | null;
  state: JobState;
  attempts: number;
  maxAttempts: number;
  nextRunAt: string | null;
  lastErrorCode: string | null;
  /** The public text of the last error; readers see `lastErrorParts` rendered by their scopes when it is set. */
  lastErrorMessage: string | null;
  /** Classified parts of the last error message (lib/scoped-message.ts), as stored; null when nothing was guarded. */
  lastErrorParts: unknown;
  correlationId: string;
  idempotencyKey: string;
  payload: Record<string, unknown>;
  result: string | null;
  createdAt: string;
  updatedAt: string;
  /** W3C traceparent of the request that enqueued the job (null when it was not traced). */
  traceparent: string | null;
}

/** One state change, as stored in the ledger and published to subscribers. `eventId` is the relay's sequence. */
export interface SyncEventModel {
  eventId: string;
  tenant: string;
  /** Null for business status events (an invoice posted), which belong to no job. */
  jobId: string | null;
  kind: JobKind | StatusEventKind;
  entityType: string;
  entityId: string;
  targetSystem: SystemName | null;
  state: JobState;
  attempts: number;
  errorCode: string | null;
  /** Public text; `messageParts` (classified, as stored) is rendered by the reader's scopes when set. */
  message: string | null;
  messageParts: unknown;
  correlationId: string;
  at: string;
}

export interface SyncJobFilter {
  states?: readonly JobState[] | null;
  kinds?: readonly JobKind[] | null;
  entityId?: string | null;
  targetSystem?: SystemName | null;
  correlationId?: string | null;
}

/** The sync view of an account: its id; statuses come from loaders. */
export interface SyncAccountModel {
  id: string;
}

export interface DriftItemModel {
  entityType: string;
  entityId: string;
  system: SystemName;
  kind: 'MISSING' | 'FIELD_MISMATCH' | 'AMOUNT_MISMATCH';
  field: string | null;
  expected: string | null;
  actual: string | null;
  repairQueued: boolean;
}

export interface ReconciliationModel {
  id: string;
  startedAt: string;
  finishedAt: string | null;
  accountsChecked: number;
  drift: DriftItemModel[];
}
