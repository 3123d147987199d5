import type { Db } from '../../../lib/db/db';
import { type EventBus, syncChannel } from '../../../lib/events';
import { EVENT_COLS, event } from '../ledger/store';
import { enqueuePartnerDeliveries } from '../partner-webhooks/enqueue';

/** Any constant: the lock that makes one relay at a time assign event ids across all workers. */
const RELAY_LOCK = 724_113;

/** States that follow a write to a system (a step done, partly done, or undone): cached answers may be stale. */
const AFTER_WRITES = new Set(['SUCCEEDED', 'FAILED', 'DEAD_LETTERED', 'COMPENSATED']);

export interface RelayOptions {
  batch?: number;
  /** Called once per tenant whose systems the relayed events say were written, before the events are published. */
  onWritten?: (tenant: string) => Promise<void>;
}

/**
 * Gives committed events their public id (`seq`, consecutive per tenant) and publishes them on the tenant's channel. Only the holder of an
 * advisory lock assigns ids, and only to committed rows, so ids follow commit order: a subscriber resuming "after
 * N" can never miss an event that committed late with a smaller row id. Tenants whose systems were written are
 * reported first (`onWritten`: the response cache's generation), so whoever sees an event reads fresh answers.
 * Business status events (an invoice PAID, a subscription CANCELED) are writes too. Returns how many it published.
 */
export async function relayEvents(db: Db, bus: EventBus, opts: RelayOptions = {}): Promise<number> {
  const batch = opts.batch ?? 500;
  const sequenced = await db.transaction(async (tx) => {
    const [lock] = await tx.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS ok', [RELAY_LOCK]);
    if (!lock?.ok) return [];
    const rows = await tx.query(
      `WITH batch AS (SELECT id, tenant_id FROM sync.events WHERE seq IS NULL ORDER BY id LIMIT $1),
         next AS (SELECT id, tenant_id, row_number() OVER (PARTITION BY tenant_id ORDER BY id) AS rn FROM batch),
         base AS (SELECT t.tenant_id, COALESCE((SELECT max(seq) FROM sync.events s WHERE s.tenant_id = t.tenant_id), 0) AS m
                  FROM (SELECT DISTINCT tenant_id FROM batch) t)
       UPDATE sync.events e SET seq = base.m + next.rn FROM next JOIN base ON base.tenant_id = next.tenant_id WHERE e.id = next.id
       RETURNING ${EVENT_COLS.split(', ').map((c) => `e.${c}`).join(', ')}`,
      [batch],
    );
    // Per tenant the ids are consecutive (1, 2, 3...), so a subscriber can tell a gap from a quiet period.
    const events = rows.map(event).sort((a, b) => Number(BigInt(a.eventId) - BigInt(b.eventId)));
    // Partner webhooks' outbox in the same transaction: an event is numbered and queued for partners once, or neither.
    await enqueuePartnerDeliveries(tx, events);
    return events;
  });
  if (opts.onWritten) {
    const written = new Set(sequenced.filter((e) => e.jobId === null || AFTER_WRITES.has(e.state)).map((e) => e.tenant));
    // Best effort: an unreachable cache must not hold events back (cached answers then expire by their max-age).
    for (const tenant of written) await opts.onWritten(tenant).catch(() => undefined);
  }
  for (const e of sequenced) await bus.publish(syncChannel(e.tenant), JSON.stringify(e));
  return sequenced.length;
}
