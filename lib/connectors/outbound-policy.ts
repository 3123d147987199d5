import {
  CircuitState, ConsecutiveBreaker, TaskCancelledError, TimeoutStrategy, circuitBreaker, handleWhen, isBrokenCircuitError, timeout,
} from 'cockatiel';
import { AuthError, TransientError } from './errors';
import { scoped } from '../scoped-message';
import type { Outbound } from './outbound';

// cockatiel 3.2's own `isTaskCancelledError` tests for the bulkhead's marker property, so it never matches a timeout.
const isTimeout = (e: unknown): e is TaskCancelledError => e instanceof TaskCancelledError;

/** How a connection's calls are going, as `connection.status` shows it (DISABLED is the connection's own flag). */
export type OutboundHealth = 'OK' | 'DEGRADED' | 'AUTH_ERROR' | 'CIRCUIT_OPEN';

export interface OutboundPolicyOptions {
  /** Time allowed for one vendor call (the SDK's own retries included). @default 10000 */
  timeoutMs?: number;
  /** Calls started per second at most: the vendor's published limit (Stripe: 100 live, 25 test mode). */
  maxRequestsPerSecond: number;
  /** Consecutive transient failures that open the circuit. @default 5 */
  breakAfter?: number;
  /** How long the circuit stays open before one trial call. @default 5000 */
  halfOpenAfterMs?: number;
  /** Told when the health changes (never with secrets: messages come from the adapter's error mapping). */
  onHealth?: (health: OutboundHealth, error: string | null) => void;
  now?: () => number;
}

export interface PolicyOutbound extends Outbound {
  /** The health as last observed by this process. */
  health(): OutboundHealth;
  circuit(): 'CLOSED' | 'OPEN' | 'HALF_OPEN';
  /** Forgets an AUTH_ERROR (credentials were rotated) without waiting for the next call. */
  reset(): void;
}

/**
 * The real `Outbound` of one connection, built from cockatiel policies:
 * - Retry-After: after a 429 (or any transient error with a Retry-After) no call starts before the upstream said; a
 *   call asked for earlier fails fast with a TransientError carrying the remaining delay (the job retries then).
 * - circuit breaker: consecutive transient failures (timeouts, 5xx, lost connections; not 429s, which the vendor
 *   paces on purpose) open it; calls then fail fast with CIRCUIT_OPEN until a trial call after `halfOpenAfterMs`.
 * - outbound rate limit: call starts are spaced 1/limit seconds apart plus a headroom (a burst of one), so any window
 *   of one second holds at most `maxRequestsPerSecond` arrivals at the vendor even when the time between our start
 *   and the request reaching the wire varies (the SDK's own async work, a late event loop). The spacing is per
 *   process: with several worker processes on one connection, give each its share (the limit is a setting of the
 *   connection).
 * - timeout: aggressive (the call's signal aborts and the caller gets TIMEOUT at once, a hung socket does not hold a
 *   worker slot).
 * 401/403 arrive from the adapter as AuthError: they mark the connection AUTH_ERROR and do not count for the breaker.
 */
export function policyOutbound(opts: OutboundPolicyOptions): PolicyOutbound {
  const now = opts.now ?? Date.now;
  // The vendor counts arrivals, we pace starts: 5 % headroom (at 20/s, 52.6 ms apart, so 21 starts span 1,052 ms and
  // only a start-to-wire delay varying by over 52 ms between two calls could put 21 arrivals in one second). Exactly
  // 1000/limit apart with no headroom, a loaded test machine saw 21 arrivals in a window of the Stripe fake.
  const spacingMs = 1000 / (opts.maxRequestsPerSecond * 0.95);
  const halfOpenAfterMs = opts.halfOpenAfterMs ?? 5000;
  let lastStart = -Infinity;
  let notBefore = 0;
  let health: OutboundHealth = 'OK';
  let openedAt = 0;

  const report = (next: OutboundHealth, error: string | null) => {
    if (next === health && next === 'OK') return;
    health = next;
    opts.onHealth?.(next, error);
  };

  const breaker = circuitBreaker(
    handleWhen((e) => (e instanceof TransientError && e.retryAfterMs === undefined) || isTimeout(e)),
    { halfOpenAfter: halfOpenAfterMs, breaker: new ConsecutiveBreaker(opts.breakAfter ?? 5) },
  );
  breaker.onBreak(() => {
    openedAt = now();
    report('CIRCUIT_OPEN', 'circuit opened after consecutive failures');
  });
  const callTimeout = timeout(opts.timeoutMs ?? 10_000, TimeoutStrategy.Aggressive);

  /**
   * Waits for this call's turn: starts are taken one after another, each at least `spacingMs` after the previous
   * one actually started (not after its planned slot), so a late start never lets the next ones bunch up.
   */
  let gate: Promise<void> = Promise.resolve();
  const paced = () => {
    const turn = gate.then(async () => {
      // Real time, not the injectable clock: timers run on it.
      while (Date.now() < lastStart + spacingMs) await new Promise((r) => setTimeout(r, Math.max(1, lastStart + spacingMs - Date.now())));
      lastStart = Date.now();
    });
    gate = turn;
    return turn;
  };

  return {
    health: () => health,
    circuit: () => (breaker.state === CircuitState.Open || breaker.state === CircuitState.Isolated ? 'OPEN' : breaker.state === CircuitState.HalfOpen ? 'HALF_OPEN' : 'CLOSED'),
    reset: () => report('OK', null),
    async call<T>(operation: string, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
      const mustWait = () => {
        const wait = notBefore - now();
        // Our own words about the call (operation names, our settings): public in a job's recorded message.
        if (wait > 0) throw new TransientError('UPSTREAM_429', scoped`${operation}: the vendor asked us to wait (Retry-After)`, wait);
      };
      mustWait();
      try {
        const result = await breaker.execute(async () => {
          await paced();
          // Again after the pacing wait: a 429 may have come back to a call that started while this one waited.
          // (A TransientError with a Retry-After does not count against the breaker.)
          mustWait();
          return callTimeout.execute(({ signal }) => fn(signal));
        });
        report('OK', null);
        return result;
      } catch (err) {
        if (isBrokenCircuitError(err)) {
          throw new TransientError('CIRCUIT_OPEN', scoped`${operation}: circuit open after repeated failures`, Math.max(1, openedAt + halfOpenAfterMs - now()));
        }
        if (isTimeout(err)) {
          if (breaker.state === CircuitState.Closed) report('DEGRADED', `${operation}: timed out`);
          throw new TransientError('TIMEOUT', scoped`${operation}: no answer within ${opts.timeoutMs ?? 10_000} ms`);
        }
        if (err instanceof AuthError) report('AUTH_ERROR', `${operation}: ${err.message}`);
        else if (err instanceof TransientError) {
          if (err.retryAfterMs !== undefined) notBefore = Math.max(notBefore, now() + err.retryAfterMs);
          if (breaker.state === CircuitState.Closed) report('DEGRADED', `${operation}: ${err.message}`);
        }
        throw err;
      }
    },
  };
}
