/** A stored sync event as the sync subgraph's `syncEvents` query returns it. */
export interface SyncEvent {
  eventId: string;
  /** Null for business status events. */
  jobId: string | null;
  kind: string;
  entityType: string;
  entityId: string;
  targetSystem: string | null;
  state: string;
  attempts: number;
  errorCode: string | null;
  /** Public text; live events from the bus also carry `messageParts`, rendered by each subscriber's scopes. */
  message: string | null;
  messageParts?: unknown;
  correlationId: string;
  at: string;
}

export interface SyncEventFilter {
  entityType?: string | null;
  entityId?: string | null;
  states?: readonly string[] | null;
  systems?: readonly string[] | null;
}

/**
 * Events per ledger read while catching up; fewer means the ledger has no more. Event ids are consecutive per tenant
 * across all kinds, so every event (of any kind) advances a subscriber's position; only accepted ones are delivered.
 */
export const PAGE = 100;

export function matches(e: SyncEvent, f: SyncEventFilter): boolean {
  return (
    (!f.entityType || e.entityType === f.entityType) &&
    (!f.entityId || e.entityId === f.entityId) &&
    (!f.states?.length || f.states.includes(e.state)) &&
    (!f.systems?.length || (e.targetSystem !== null && f.systems.includes(e.targetSystem)))
  );
}
