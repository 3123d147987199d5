import type { GraphQLError } from 'graphql';
import type { HeldAnswers } from '../../lib/http/held-answers';

/**
 * A subscribe refused for a spent budget is answered slowly, as the HTTP endpoint's early refusals are
 * (gateway/fairness.ts): over SSE its 429 is held, over graphql-ws the connection's socket is not read meanwhile.
 */
export interface RefusalHold {
  /** RATE_LIMITS.refusalHoldMs; 0 answers at once. */
  holdMs: number;
  /** Where SSE's held answers wait (the gateway's, shared with HTTP). */
  held: HeldAnswers;
}

/** How long to hold a subscribe refused with `errors`: the hold for RATE_LIMITED, never past the refill; else 0. */
export function holdFor(errors: readonly GraphQLError[], hold: RefusalHold | undefined): number {
  const first = errors[0];
  if (!hold || !first || first.extensions['code'] !== 'RATE_LIMITED') return 0;
  const after = first.extensions['retryAfterSeconds'];
  return typeof after === 'number' ? Math.min(hold.holdMs, after * 1000) : hold.holdMs;
}
