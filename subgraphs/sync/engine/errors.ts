import { PermanentError, TransientError } from '../../../lib/connectors/errors';

// Connector failures live with the connector contract; the engine classifies them here.
export { AuthError, PermanentError, TransientError } from '../../../lib/connectors/errors';

/** A workflow step failed and the steps already done were undone; the job ends COMPENSATED. */
export class CompensatedError extends Error {
  constructor(readonly code: string, message: string, readonly steps: readonly string[]) {
    super(message);
  }
}

export type Outcome =
  | { kind: 'retry'; code: string; message: string; delayMs: number }
  | { kind: 'dead-letter'; code: string; message: string }
  | { kind: 'compensated'; code: string; message: string; result: string };

export interface RetryPolicy {
  baseDelayMs: number;
  maxDelayMs: number;
}

/**
 * Exponential backoff with jitter (half fixed, half random), never sooner than the upstream's Retry-After. Jitter
 * keeps many jobs that failed together from retrying in lockstep against a recovering system.
 */
export function backoffMs(policy: RetryPolicy, attempt: number, retryAfterMs: number | undefined, random = Math.random): number {
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  const jittered = exp / 2 + random() * (exp / 2);
  return Math.max(Math.round(jittered), retryAfterMs ?? 0);
}

/** What to do with a job whose attempt `attempt` (1-based) of `maxAttempts` threw `err`. */
export function classify(err: unknown, attempt: number, maxAttempts: number, policy: RetryPolicy): Outcome {
  if (err instanceof CompensatedError) return { kind: 'compensated', code: err.code, message: err.message, result: err.steps.join('\n') };
  if (err instanceof PermanentError) return { kind: 'dead-letter', code: err.code, message: err.message };
  const code = err instanceof TransientError ? err.code : 'INTERNAL';
  const message = err instanceof Error ? err.message : String(err);
  if (attempt >= maxAttempts) return { kind: 'dead-letter', code, message: `${message} (gave up after ${attempt} attempts)` };
  return { kind: 'retry', code, message, delayMs: backoffMs(policy, attempt, err instanceof TransientError ? err.retryAfterMs : undefined) };
}
