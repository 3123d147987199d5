import { createHash } from 'node:crypto';
import type { Db } from '../../../lib/db/db';
import type { ChangePage } from '../../../lib/connectors/remote';
import { enqueueSyncJob } from '../../../lib/outbox';
import { CRM_KINDS } from '../../crm/connector/remote-port';
import type { ConnectionModel } from '../connections/models';
import type { ConnectionRuntime } from '../connections/runtime';

/** One kind of record of one connection that is read by polling: its changes, page by page, behind a cursor. */
interface PolledKind {
  kind: string;
  changes(cursor: string | null, limit: number): Promise<ChangePage<unknown>>;
}

export interface PollOptions {
  /** Records per vendor read. @default 100 */
  pageSize?: number;
  /** Pages per kind in one run, so one busy connection cannot hold the scheduler. @default 20 */
  maxPages?: number;
  /**
   * Called after a page is read and before its jobs and cursor are committed: the window a crash can hit (the fault
   * injector and the crash test use it). Throwing ends the run with nothing of the page committed.
   */
  afterRead?: (kind: string, page: ChangePage<unknown>) => Promise<void>;
}

export interface PollOutcome {
  connectionId: string;
  kind: string;
  pages: number;
  records: number;
  /** REMOTE_CHANGE jobs new to the ledger (a re-read record whose content did not change adds none). */
  enqueued: number;
  caughtUp: boolean;
}

/**
 * What a connection's polling reads: every ERP kind whose changes we apply (Odoo has no webhooks); a CRM only when
 * its webhooks are not configured (HubSpot without a client secret), as a fallback.
 */
async function polledKinds(connections: ConnectionRuntime, connection: ConnectionModel): Promise<PolledKind[]> {
  if (connection.system === 'ERP') {
    const erp = await connections.erpRemote(connection);
    if (!erp) return [];
    return (['customer', 'invoice'] as const).map((kind) => ({ kind, changes: (cursor, limit) => erp.changes(kind, cursor, limit) }));
  }
  if (connection.system === 'CRM') {
    const crm = await connections.crmRemote(connection);
    if (!crm || crm.webhooks) return [];
    return CRM_KINDS.map((kind) => ({ kind, changes: (cursor, limit) => crm.changes(kind, cursor, limit) }));
  }
  return [];
}

/** The key of one observed version of a record: the same content read again is the same job, a new one is a new job. */
function versionKey(connectionId: string, kind: string, r: { remoteId: string; remoteUpdatedAt: string; remoteData: unknown }): string {
  const digest = createHash('sha256').update(JSON.stringify(r.remoteData)).digest('hex').slice(0, 16);
  return `poll:${connectionId}:${kind}:${r.remoteId}:${r.remoteUpdatedAt}:${digest}`;
}

/**
 * Incremental polling of one connection. Each page's records become REMOTE_CHANGE jobs (the same flow as webhooks:
 * re-read by id, applied by ownership) and the cursor moves in the same transaction, so the cursor never runs ahead
 * of the ledger: a crash after the read re-reads the page, and re-reading enqueues nothing new (jobs are keyed by the
 * record's version). The cursor is written compare-and-set, so two pollers of one connection cannot move it back;
 * the loser stops. Adapters' cursors step back by an overlap window once caught up (clock skew, late commits).
 */
export async function pollConnection(db: Db, connections: ConnectionRuntime, connection: ConnectionModel, opts: PollOptions = {}): Promise<PollOutcome[]> {
  const pageSize = opts.pageSize ?? 100;
  const maxPages = opts.maxPages ?? 20;
  const outcomes: PollOutcome[] = [];
  for (const polled of await polledKinds(connections, connection)) {
    const outcome: PollOutcome = { connectionId: connection.id, kind: polled.kind, pages: 0, records: 0, enqueued: 0, caughtUp: false };
    outcomes.push(outcome);
    while (outcome.pages < maxPages && !outcome.caughtUp) {
      const [row] = await db.query<{ cursor: string }>('SELECT cursor FROM sync.poll_cursors WHERE connection_id = $1 AND kind = $2', [connection.id, polled.kind]);
      const before = row?.cursor ?? null;
      const page = await polled.changes(before, pageSize);
      await opts.afterRead?.(polled.kind, page);
      const committed = await db.transaction(async (tx) => {
        let enqueued = 0;
        for (const r of page.records) {
          const key = versionKey(connection.id, polled.kind, r);
          const id = await enqueueSyncJob(tx, {
            tenant: connection.tenant, kind: 'REMOTE_CHANGE', entityType: polled.kind, entityId: r.remoteId, sourceSystem: connection.system,
            targetSystem: null, correlationId: `poll:${connection.id}:${polled.kind}`, idempotencyKey: key,
            payload: { connectionId: connection.id, eventId: key, type: `${polled.kind}.polled`, objectKind: polled.kind, remoteId: r.remoteId },
          });
          if (id) enqueued++;
        }
        const moved = before === null
          ? await tx.query(
            `INSERT INTO sync.poll_cursors (connection_id, kind, tenant_id, cursor, records_seen) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING 1`,
            [connection.id, polled.kind, connection.tenant, page.cursor, page.records.length],
          )
          : await tx.query(
            `UPDATE sync.poll_cursors SET cursor = $4, records_seen = records_seen + $5, polled_at = now() WHERE connection_id = $1 AND kind = $2 AND tenant_id = $3 AND cursor = $6 RETURNING 1`,
            [connection.id, polled.kind, connection.tenant, page.cursor, page.records.length, before],
          );
        return { enqueued, moved: moved.length > 0 };
      });
      outcome.pages++;
      outcome.records += page.records.length;
      outcome.enqueued += committed.enqueued;
      // Another poller moved the cursor meanwhile: it owns this kind now.
      if (!committed.moved) break;
      outcome.caughtUp = !page.hasMore;
    }
  }
  return outcomes;
}

/** Another engine took the connection's poll lease: not a failure of the connection. */
class LeaseLost extends Error {}

/** Every enabled vendor CRM/ERP connection, for the poll schedule. */
export async function pollableConnections(db: Db, connections: ConnectionRuntime): Promise<ConnectionModel[]> {
  const rows = await db.query<{ id: string }>(`SELECT id FROM sync.connections WHERE enabled AND system IN ('CRM', 'ERP') AND adapter <> 'reference' ORDER BY id`);
  const found: ConnectionModel[] = [];
  for (const r of rows) {
    const c = await connections.store.byId(r.id);
    if (c?.enabled) found.push(c);
  }
  return found;
}

/**
 * Leases of connections to poll (`sync.poll_leases`): each taken and released in one short statement, so no
 * transaction stays open while a vendor is read, and one engine at a time polls a connection. A lease runs out by
 * itself (an engine that died while polling holds it `leaseSeconds` at most); a live poll renews it at every page.
 */
export function pollLeases(db: Db, holder: string, leaseSeconds = 300) {
  return {
    async take(connectionId: string): Promise<boolean> {
      const rows = await db.query(
        `INSERT INTO sync.poll_leases (connection_id, holder, leased_until) VALUES ($1, $2, now() + make_interval(secs => $3::double precision))
         ON CONFLICT (connection_id) DO UPDATE SET holder = EXCLUDED.holder, leased_until = EXCLUDED.leased_until
           WHERE sync.poll_leases.leased_until < now()
         RETURNING 1`,
        [connectionId, holder, leaseSeconds],
      );
      return rows.length > 0;
    },
    /** Extends a lease still held; false when it ran out and another engine took the connection. */
    async renew(connectionId: string): Promise<boolean> {
      const rows = await db.query(
        `UPDATE sync.poll_leases SET leased_until = now() + make_interval(secs => $3::double precision) WHERE connection_id = $1 AND holder = $2 RETURNING 1`,
        [connectionId, holder, leaseSeconds],
      );
      return rows.length > 0;
    },
    async release(connectionId: string): Promise<void> {
      await db.query('DELETE FROM sync.poll_leases WHERE connection_id = $1 AND holder = $2', [connectionId, holder]);
    },
  };
}

export interface PollAllOptions extends PollOptions {
  /** Who takes the leases: one id per round, so two rounds of one engine do not share a connection either. */
  holder: string;
  /** Connections polled at the same time. @default 4 */
  concurrency?: number;
  leaseSeconds?: number;
  onError?: (connectionId: string, err: unknown) => void;
}

/**
 * One round of polling every vendor connection: each under its own lease (a connection another engine is polling is
 * skipped this round), a few at a time, so one slow vendor does not hold up the others.
 */
export async function pollAllConnections(db: Db, connections: ConnectionRuntime, opts: PollAllOptions): Promise<PollOutcome[]> {
  const leases = pollLeases(db, opts.holder, opts.leaseSeconds);
  const queue = await pollableConnections(db, connections);
  const outcomes: PollOutcome[] = [];
  const next = async (): Promise<void> => {
    for (let c = queue.shift(); c; c = queue.shift()) {
      if (!(await leases.take(c.id))) continue;
      const connection = c;
      try {
        outcomes.push(...(await pollConnection(db, connections, connection, {
          ...opts,
          // Each page read renews the lease before its jobs commit; a lease lost meanwhile ends this connection's run
          // with nothing of the page committed (the engine that took it reads the page itself).
          afterRead: async (kind, page) => {
            if (!(await leases.renew(connection.id))) throw new LeaseLost(`poll lease of ${connection.id} lost`);
            await opts.afterRead?.(kind, page);
          },
        })));
      } catch (err) {
        // What the vendor refused (a mapped field it does not have, credentials revoked) stops this connection's
        // polling until fixed: it is shown on the connection (`status { lastError }`), not only in the log.
        if (!(err instanceof LeaseLost)) {
          await connections.store.noteError(c.id, `polling failed: ${err instanceof Error ? err.message : String(err)}`.slice(0, 500))
            .catch((noted: unknown) => opts.onError?.(c.id, noted));
        }
        opts.onError?.(c.id, err);
      } finally {
        await leases.release(c.id);
      }
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency ?? 4 }, next));
  return outcomes;
}
