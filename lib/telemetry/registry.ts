import { Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The process's metrics, served at /metrics by every server in it (gateway, subgraph, worker). Every metric of the
 * product is defined at import time of its module, so the exported names are known before any traffic (the Grafana
 * dashboard test relies on it).
 */
export const registry = new Registry();

let processMetrics = false;

/** Adds Node's process metrics (CPU, memory, event loop lag) once per process; entry points call it. */
export function collectProcessMetrics(): void {
  if (processMetrics) return;
  processMetrics = true;
  collectDefaultMetrics({ register: registry, prefix: 'sor_' });
}

export async function metricsText(): Promise<{ contentType: string; body: string }> {
  return { contentType: registry.contentType, body: await registry.metrics() };
}

/**
 * Label policy that keeps cardinality bounded: a tenant is a label value only when the operator lists it
 * (`METRICS_TENANTS`), every other tenant is `other`; operation names are kept for the operator's list
 * (`METRICS_OPERATIONS`) or, without one, for the first `maxOperations` well-formed names seen, then grouped as `other`.
 * Entity ids are never labels anywhere.
 */
export interface LabelPolicy {
  tenants: readonly string[];
  operations: readonly string[] | null;
  maxOperations: number;
}

const OPERATION_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
let policy: LabelPolicy = { tenants: [], operations: null, maxOperations: 100 };
let seenOperations = new Set<string>();

export function configureLabels(next: Partial<LabelPolicy>): void {
  policy = { ...policy, ...next };
  seenOperations = new Set();
}

export function tenantLabel(tenant: string | undefined): string {
  return tenant !== undefined && policy.tenants.includes(tenant) ? tenant : 'other';
}

export function operationLabel(name: string | null | undefined): string {
  if (!name) return 'anonymous';
  if (policy.operations) return policy.operations.includes(name) ? name : 'other';
  if (seenOperations.has(name)) return name;
  if (!OPERATION_NAME.test(name) || seenOperations.size >= policy.maxOperations) return 'other';
  seenOperations.add(name);
  return name;
}
