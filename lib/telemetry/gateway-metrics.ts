import { Counter, Gauge, Histogram } from 'prom-client';
import { registry } from './registry';

const registers = [registry];
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** RED of the gateway per operation (name bounded, see registry.ts) and tenant (allow-listed). */
export const graphqlRequests = new Counter({
  name: 'sor_graphql_requests_total', help: 'GraphQL requests answered by the gateway', labelNames: ['operation', 'type', 'tenant'] as const, registers,
});
export const graphqlErrors = new Counter({
  name: 'sor_graphql_errors_total', help: 'GraphQL errors in gateway responses, by extensions.code', labelNames: ['operation', 'code', 'tenant'] as const, registers,
});
export const graphqlDuration = new Histogram({
  name: 'sor_graphql_request_duration_seconds', help: 'Gateway request duration', labelNames: ['operation', 'type'] as const, buckets: LATENCY_BUCKETS, registers,
});

/** RED of each subgraph as the gateway sees it (one fetch of a query plan). */
export const subgraphRequests = new Counter({
  name: 'sor_subgraph_requests_total', help: 'Subgraph fetches made by the gateway', labelNames: ['subgraph'] as const, registers,
});
export const subgraphErrors = new Counter({
  name: 'sor_subgraph_errors_total', help: 'Subgraph fetches that failed or returned errors, by code', labelNames: ['subgraph', 'code'] as const, registers,
});
export const subgraphDuration = new Histogram({
  name: 'sor_subgraph_request_duration_seconds', help: 'Subgraph fetch duration', labelNames: ['subgraph'] as const, buckets: LATENCY_BUCKETS, registers,
});

export const responseCacheLookups = new Counter({
  name: 'sor_response_cache_lookups_total', help: 'Response cache lookups of queries, by result (hit, miss)', labelNames: ['result'] as const, registers,
});
export const responseCacheWaiting = new Gauge({
  name: 'sor_response_cache_coalesced_waiting', help: 'Queries waiting for an identical cache miss in flight to answer', registers,
});
export const fairShareQueued = new Gauge({
  name: 'sor_fair_share_queued', help: "Operations waiting for their tenant's in-flight cost to leave room (gateway/fairness.ts)", registers,
});
export const refusalsHeld = new Gauge({
  name: 'sor_refusals_held', help: 'Early refusals (429) waiting out their hold before they are written (lib/http/held-answers.ts)', registers,
});
export const rateLimitRefusals = new Counter({
  name: 'sor_rate_limit_refusals_total', help: 'Requests refused with RATE_LIMITED, by token kind', labelNames: ['kind'] as const, registers,
});
export const subscriptionResumes = new Counter({
  name: 'sor_subscription_resumes_total',
  help: 'Subscriptions resuming with `after`, by how they were caught up: from the fan-out group\'s recent history, or by a ledger read (a read may serve several)',
  labelNames: ['source'] as const, registers,
});
export const subscriptionLedgerReads = new Counter({
  name: 'sor_subscription_ledger_reads_total', help: 'Pages of stored events read by the subscription fan-out (resumes and gaps)', registers,
});
export const subscriptionFanOutDuration = new Histogram({
  name: 'sor_subscription_fanout_seconds',
  help: 'Per live event and fan-out group: from the group taking the event (execution included) to the write to its last subscriber',
  buckets: [0.001, 0.002, 0.005, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.06, 0.08, 0.1, 0.125, 0.15, 0.2, 0.3, 0.5, 1, 2.5, 5, 10, 30], registers,
});
export const subscriptionDeliveries = new Counter({
  name: 'sor_subscription_deliveries_total', help: 'Live event frames handed to subscribers by the fan-out (one per subscriber and event)', registers,
});
export const operationCostHistogram = new Histogram({
  name: 'sor_operation_cost', help: 'Estimated cost of operations admitted to the rate limiter', labelNames: ['kind'] as const,
  buckets: [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000], registers,
});

/** Live state of one subscription server (graphql-ws and SSE), read when scraped. */
export interface SubscriptionStats {
  connections: number;
  subscriptions: number;
  /** Fan-out groups: sets of subscriptions that share one execution and one frame per event. */
  groups: number;
}
const subscriptionServers = new Set<() => SubscriptionStats>();
/** Adds a subscription server to the gauges (summed over the servers of this process); returns its removal. */
export function reportSubscriptions(read: () => SubscriptionStats): () => void {
  subscriptionServers.add(read);
  return () => subscriptionServers.delete(read);
}
const total = (key: keyof SubscriptionStats) => [...subscriptionServers].reduce((sum, read) => sum + read()[key], 0);
new Gauge({
  name: 'sor_websocket_connections', help: 'Open subscription connections (graphql-ws sockets and SSE streams)', registers,
  collect() {
    this.set(total('connections'));
  },
});
new Gauge({
  name: 'sor_subscriptions_active', help: 'Running subscriptions', registers,
  collect() {
    this.set(total('subscriptions'));
  },
});
new Gauge({
  name: 'sor_subscription_groups', help: 'Subscription fan-out groups (each executes and serializes once per event)', registers,
  collect() {
    this.set(total('groups'));
  },
});
