/**
 * How a call into a system of record failed, as the sync engine decides on it. Every adapter (reference store or
 * vendor SDK) maps its failures onto these: the engine retries transient ones with backoff, dead-letters permanent
 * ones at once, and dead-letters auth failures with AUTH_ERROR while marking the connection (replayable after the
 * credentials are rotated).
 */

/** A failure worth retrying: timeouts, 5xx, 429 (with the upstream's Retry-After), lost connections, open circuits. */
export class TransientError extends Error {
  constructor(readonly code: string, message: string, readonly retryAfterMs?: number) {
    super(message);
  }
}

/** A failure a retry cannot fix (validation, not found, rejected): dead-lettered at once with the reason. */
export class PermanentError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

/** The vendor refused our credentials (401/403): dead-lettered with AUTH_ERROR; the connection shows AUTH_ERROR. */
export class AuthError extends PermanentError {
  constructor(message: string, readonly status?: number) {
    super('AUTH_ERROR', message);
  }
}
