import { SpanKind, extractContext, linkTo, traced, tracingEnabled } from '../../lib/telemetry/tracing';
import type { SyncJobModel } from './ledger/models';

/**
 * Runs one attempt of a job in a CONSUMER span that continues the trace of the request that enqueued it (the
 * traceparent stored with the job) and links to it, carrying the job's correlation id. Jobs enqueued untraced start
 * a trace of their own.
 */
export function jobSpan<T>(job: SyncJobModel, fn: () => Promise<T>): Promise<T> {
  if (!tracingEnabled()) return fn();
  const parent = extractContext(job.traceparent ? { traceparent: job.traceparent } : {}, job.correlationId);
  return traced(`sync.job ${job.kind}`, {
    'sor.job.id': job.id, 'sor.job.kind': job.kind, 'sor.job.target': job.targetSystem ?? 'none', 'sor.job.attempt': job.attempts, 'sor.tenant': job.tenant,
  }, fn, { kind: SpanKind.CONSUMER, parent, links: linkTo(parent) });
}
