import { PermanentError, TransientError } from '../../../lib/connectors/errors';
import { type ScopedMessage, appendText, fullText } from '../../../lib/scoped-message';

// Connector failures live with the connector contract; the engine classifies them here.
export { AuthError, PermanentError, TransientError } from '../../../lib/connectors/errors';

/** A workflow step failed and the steps already done were undone; the job ends COMPENSATED. */
export class CompensatedError extends Error {
  constructor(readonly code: string, readonly reason: string | ScopedMessage, readonly steps: readonly string[]) {
    super(typeof reason === 'string' ? reason : fullText(reason));
  }
}

/**
 * What a failure says: classified (values tagged by system) when the code that threw wrote it so, else plain text
 * nobody classified (the worker guards it as a whole, see recorded-message.ts).
 */
export type FailureMessage = string | ScopedMessage;

/** The classified message of a thrown error when it has one, its text otherwise. */
export function failureMessage(err: unknown): FailureMessage {
  if (err instanceof PermanentError || err instanceof TransientError) return err.scoped ?? err.message;
  if (err instanceof CompensatedError) return err.reason;
  return err instanceof Error ? err.message : String(err);
}

export type Outcome =
  | { kind: 'retry'; code: string; message: FailureMessage; delayMs: number }
  | { kind: 'dead-letter'; code: string; message: FailureMessage }
  | { kind: 'compensated'; code: string; message: FailureMessage; result: string };

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
  const message = failureMessage(err);
  if (err instanceof CompensatedError) return { kind: 'compensated', code: err.code, message, result: err.steps.join('\n') };
  if (err instanceof PermanentError) return { kind: 'dead-letter', code: err.code, message };
  const code = err instanceof TransientError ? err.code : 'INTERNAL';
  if (attempt >= maxAttempts) {
    const gaveUp = ` (gave up after ${attempt} attempts)`;
    return { kind: 'dead-letter', code, message: typeof message === 'string' ? `${message}${gaveUp}` : appendText(message, gaveUp) };
  }
  return { kind: 'retry', code, message, delayMs: backoffMs(policy, attempt, err instanceof TransientError ? err.retryAfterMs : undefined) };
}
