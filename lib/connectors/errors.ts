/**
 * How a call into a system of record failed, as the sync engine decides on it. Every adapter (reference store or
 * vendor SDK) maps its failures onto these: the engine retries transient ones with backoff, dead-letters permanent
 * ones at once, and dead-letters auth failures with AUTH_ERROR while marking the connection (replayable after the
 * credentials are rotated).
 *
 * A message may be a ScopedMessage (lib/scoped-message.ts) when it carries values of a system's data: `message` is then
 * the full text (for logs) and `scoped` the classified one the ledger records.
 */

import { type ScopedMessage, fullText } from '../scoped-message';

const textOf = (m: string | ScopedMessage): string => (typeof m === 'string' ? m : fullText(m));
const scopedOf = (m: string | ScopedMessage): ScopedMessage | undefined => (typeof m === 'string' ? undefined : m);

/** A failure worth retrying: timeouts, 5xx, 429 (with the upstream's Retry-After), lost connections, open circuits. */
export class TransientError extends Error {
  readonly scoped: ScopedMessage | undefined;
  constructor(readonly code: string, message: string | ScopedMessage, readonly retryAfterMs?: number) {
    super(textOf(message));
    this.scoped = scopedOf(message);
  }
}

/** A failure a retry cannot fix (validation, not found, rejected): dead-lettered at once with the reason. */
export class PermanentError extends Error {
  readonly scoped: ScopedMessage | undefined;
  constructor(readonly code: string, message: string | ScopedMessage) {
    super(textOf(message));
    this.scoped = scopedOf(message);
  }
}

/** The vendor refused our credentials (401/403): dead-lettered with AUTH_ERROR; the connection shows AUTH_ERROR. */
export class AuthError extends PermanentError {
  constructor(message: string, readonly status?: number) {
    super('AUTH_ERROR', message);
  }
}
