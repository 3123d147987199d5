import type { Config } from '../config';
import { collectProcessMetrics, configureLabels } from './registry';
import { startTracingFromEnv } from './tracing';

export interface Telemetry {
  /** Flushes pending spans (call last on shutdown). */
  shutdown(): Promise<void>;
}

/**
 * What every entry point does first, before opening databases or servers: the metrics label policy and process
 * metrics, and tracing when the OTEL_* variables ask for it (off by default).
 */
export function startTelemetry(service: string, config: Config, env: NodeJS.ProcessEnv = process.env): Telemetry {
  configureLabels({ tenants: config.metrics.tenants, operations: config.metrics.operations });
  collectProcessMetrics();
  const tracing = startTracingFromEnv(service, env);
  return { shutdown: async () => tracing?.shutdown() };
}
