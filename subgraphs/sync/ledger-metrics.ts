import { Gauge } from 'prom-client';
import type { Queryable } from '../../lib/db/db';
import { registry, tenantLabel } from '../../lib/telemetry/registry';

/**
 * The ledger's standing state, read from Postgres when /metrics is scraped (one snapshot shared by the gauges of a
 * scrape). Every worker reports the same numbers: alert on `max()` across instances, not `sum()`. SUCCEEDED jobs are
 * not counted here (that count only grows; see sor_sync_jobs_finished_total).
 */
interface Snapshot {
  byState: { state: string; flow: string; target: string; n: number }[];
  oldestPendingSeconds: number;
  driftByTenant: { tenant: string; items: number }[];
}

const sources = new Set<Queryable>();
let inFlight: Promise<Snapshot | null> | null = null;

async function read(db: Queryable): Promise<Snapshot> {
  const byState = await db.query<{ state: string; kind: string; target_system: string | null; n: string }>(
    `SELECT state, kind, target_system, count(*) AS n FROM sync.jobs WHERE state <> 'SUCCEEDED' GROUP BY state, kind, target_system`,
  );
  const [oldest] = await db.query<{ age: string | null }>(
    `SELECT EXTRACT(EPOCH FROM now() - min(created_at))::text AS age FROM sync.jobs WHERE state = 'PENDING'`,
  );
  const drift = await db.query<{ tenant_id: string; items: string }>(
    `SELECT tenant_id, jsonb_array_length(drift)::text AS items FROM (
       SELECT DISTINCT ON (tenant_id) tenant_id, drift FROM sync.reconciliations WHERE finished_at IS NOT NULL ORDER BY tenant_id, started_at DESC) latest`,
  );
  return {
    byState: byState.map((r) => ({ state: r.state, flow: r.kind, target: r.target_system ?? 'none', n: Number(r.n) })),
    oldestPendingSeconds: oldest?.age ? Math.max(0, Number(oldest.age)) : 0,
    driftByTenant: drift.map((r) => ({ tenant: r.tenant_id, items: Number(r.items) })),
  };
}

/**
 * One database read per scrape: prom-client collects the gauges below in parallel, so they share the read in flight
 * (never an older one). A failed read leaves them empty.
 */
function snapshot(): Promise<Snapshot | null> {
  const db = sources.values().next().value;
  if (!db) return Promise.resolve(null);
  inFlight ??= read(db).catch(() => null).finally(() => (inFlight = null));
  return inFlight;
}

const registers = [registry];
new Gauge({
  name: 'sor_sync_jobs', help: 'Unfinished jobs in the ledger by state, flow and target system', labelNames: ['state', 'flow', 'target'] as const, registers,
  async collect() {
    const s = await snapshot();
    this.reset();
    for (const r of s?.byState ?? []) this.set({ state: r.state, flow: r.flow, target: r.target }, r.n);
  },
});
new Gauge({
  name: 'sor_sync_dead_letter_jobs', help: 'Dead-lettered jobs waiting for a replay, by flow and target system', labelNames: ['flow', 'target'] as const, registers,
  async collect() {
    const s = await snapshot();
    this.reset();
    for (const r of s?.byState ?? []) if (r.state === 'DEAD_LETTERED') this.set({ flow: r.flow, target: r.target }, r.n);
  },
});
new Gauge({
  name: 'sor_sync_oldest_pending_job_age_seconds', help: 'Age of the oldest PENDING job (0 when none)', registers,
  async collect() {
    this.set((await snapshot())?.oldestPendingSeconds ?? 0);
  },
});
new Gauge({
  name: 'sor_sync_reconciliation_drift_items', help: 'Drift items found by the latest finished reconciliation of each tenant', labelNames: ['tenant'] as const, registers,
  async collect() {
    const s = await snapshot();
    this.reset();
    for (const r of s?.driftByTenant ?? []) this.inc({ tenant: tenantLabel(r.tenant) }, r.items);
  },
});

/** Makes /metrics of this process report the ledger in `db`; returns the removal (on shutdown). */
export function reportLedger(db: Queryable): () => void {
  sources.add(db);
  return () => {
    sources.delete(db);
  };
}
