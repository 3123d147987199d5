import { Counter, Gauge, Histogram } from 'prom-client';
import { registry, tenantLabel } from './registry';

const registers = [registry];

/**
 * Sync engine metrics recorded where things happen (worker, connectors, webhooks). The ledger's standing state (jobs
 * by state, dead letters, oldest PENDING, drift) is read from Postgres at scrape time: subgraphs/sync/ledger-metrics.ts.
 * `flow` is the job kind, `target` the target system; both are small closed sets.
 */
const syncLatency = new Histogram({
  name: 'sor_sync_latency_seconds', help: 'From the change (job enqueued) to SUCCEEDED in the target system', labelNames: ['flow', 'target', 'tenant'] as const,
  buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600], registers,
});
const jobsFinished = new Counter({
  name: 'sor_sync_jobs_finished_total', help: 'Jobs that reached a final state, by outcome (succeeded, dead_lettered, compensated)',
  labelNames: ['flow', 'target', 'outcome'] as const, registers,
});
const retries = new Counter({
  name: 'sor_sync_retries_total', help: 'Job attempts that failed and were scheduled again', labelNames: ['flow', 'target', 'code'] as const, registers,
});

export interface JobLabels {
  kind: string;
  targetSystem: string | null;
  tenant: string;
}
const target = (job: JobLabels) => job.targetSystem ?? 'none';

export function jobSucceeded(job: JobLabels & { createdAt: string }): void {
  const seconds = Math.max(0, (Date.now() - Date.parse(job.createdAt)) / 1000);
  syncLatency.observe({ flow: job.kind, target: target(job), tenant: tenantLabel(job.tenant) }, seconds);
  jobsFinished.inc({ flow: job.kind, target: target(job), outcome: 'succeeded' });
}
export function jobRetried(job: JobLabels, code: string): void {
  retries.inc({ flow: job.kind, target: target(job), code });
}
export function jobEnded(job: JobLabels, outcome: 'dead_lettered' | 'compensated'): void {
  jobsFinished.inc({ flow: job.kind, target: target(job), outcome });
}

// ---- For the connection layer (circuit breakers) and webhook ingestion: call these where the events happen. ----

export type CircuitState = 'closed' | 'half_open' | 'open';
/** A connection as metrics may name it: the vendor and system, never its id (bounded labels). */
export interface ConnectionLabels {
  id: string;
  vendor: string;
  system: string;
}
const circuits = new Map<string, { labels: ConnectionLabels; state: CircuitState }>();
const CIRCUIT_STATES: readonly CircuitState[] = ['closed', 'half_open', 'open'];
new Gauge({
  name: 'sor_connector_circuits', help: 'Connections whose circuit breaker is in each state, by vendor and system',
  labelNames: ['vendor', 'system', 'state'] as const, registers,
  collect() {
    this.reset();
    for (const { labels, state } of circuits.values()) this.inc({ vendor: labels.vendor, system: labels.system, state });
  },
});
/** Records a breaker's state change (cockatiel's onBreak / onHalfOpen / onReset); the gauge counts connections per state. */
export function circuitStateChanged(connection: ConnectionLabels, state: CircuitState): void {
  if (!CIRCUIT_STATES.includes(state)) throw new TypeError(`unknown circuit state ${String(state)}`);
  circuits.set(connection.id, { labels: connection, state });
}
/** Forgets a connection (deleted or re-created). */
export function connectionRemoved(connectionId: string): void {
  circuits.delete(connectionId);
}

const webhookLag = new Histogram({
  name: 'sor_webhook_ingestion_lag_seconds', help: 'From the vendor event time to the webhook being stored', labelNames: ['vendor'] as const,
  buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600], registers,
});
const webhookReceived = new Counter({
  name: 'sor_webhooks_received_total', help: 'Webhook deliveries stored', labelNames: ['vendor'] as const, registers,
});
const webhookRefusals = new Counter({
  name: 'sor_webhook_refusals_total', help: 'Webhook deliveries refused, by reason (signature, stale, malformed, unknown_connection...)',
  labelNames: ['vendor', 'reason'] as const, registers,
});
/** A webhook stored; `eventTime` is the vendor's timestamp of the event (lag = now - eventTime). */
export function webhookAccepted(vendor: string, eventTime: Date): void {
  webhookReceived.inc({ vendor });
  webhookLag.observe({ vendor }, Math.max(0, (Date.now() - eventTime.getTime()) / 1000));
}
export function webhookRefused(vendor: string, reason: string): void {
  webhookRefusals.inc({ vendor, reason });
}
