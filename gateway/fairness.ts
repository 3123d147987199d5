import { GraphQLError } from 'graphql';
import type { Principal } from '../lib/auth/principal';
import { fairShareQueued, rateLimitRefusals } from '../lib/telemetry/gateway-metrics';

export interface FairnessOptions {
  /** Operations of one tenant the gateway runs at once; the next ones are refused with 429 until one ends. */
  maxConcurrentPerTenant: number;
  /**
   * Estimated cost (gateway/cost.ts) of one tenant's operations executing at once on this instance. An operation that
   * would go past it waits (in order of arrival) until earlier ones end; one operation alone is always admitted.
   */
  maxInFlightCostPerTenant: number;
  /** Operations of one tenant waiting for its in-flight cost to drop; beyond this they are refused with 429. */
  maxQueuedPerTenant: number;
  /** How long an operation may wait for its tenant's in-flight cost to drop before it is refused. */
  maxQueueWaitMs: number;
  /**
   * The principal's last known rate-limit state, without a round trip: milliseconds until its budget refills when
   * it is known to be spent, null otherwise (see RateLimits.knownSpent in rate-limit.ts).
   */
  knownSpent: (principal: Principal) => Promise<number | null>;
  /** The same, answered synchronously from this instance's view only (null when it has none). */
  knownSpentNow: (principal: Principal) => number | null;
  /** The principal of a token already verified (the verifier's cache), without verifying it again. */
  peekToken: (token: string) => Principal | undefined;
  /** An early refusal is answered after this many ms at most (never after the budget refills); 0 at once. */
  refusalHoldMs: number;
}

/** Per-request admission state, shared by every copy Apollo makes of the request's context. */
export interface Admission {
  tenant?: string;
  cost: number;
}

/** A refusal written as it is, without Apollo, parsing, or allocation beyond its headers. */
export interface EarlyRefusal {
  status: number;
  headers: Readonly<Record<string, string>>;
  body: string;
  /** Written after this many ms (lib/http/held-answers.ts), so a client that does not wait cannot loop on refusals. */
  holdMs: number;
}

export interface Fairness {
  /**
   * Before the request's body is read: a refusal for a principal whose budget this instance already knows to be
   * spent, or whose tenant is at its cap of operations or has its fair-share queue full (its token verified before,
   * so no signature check either), or null to go on.
   */
  refuseEarly(authorization: string | undefined): EarlyRefusal | null;
  /**
   * Admits one operation of `principal` (counted against maxConcurrentPerTenant), or throws RATE_LIMITED (429)
   * before the document is parsed, validated or planned. Every admission is ended with `leave(admission)`.
   */
  enter(principal: Principal, admission: Admission): Promise<void>;
  /** Waits until the tenant's in-flight cost leaves room for `cost` (fair share), or throws RATE_LIMITED. */
  admitCost(admission: Admission, cost: number): Promise<void>;
  leave(admission: Admission | undefined): void;
}

function refused(message: string, retryAfterSeconds: number): GraphQLError {
  return new GraphQLError(message, {
    extensions: { code: 'RATE_LIMITED', retryAfterSeconds, http: { status: 429, headers: new Map([['retry-after', String(retryAfterSeconds)]]) } },
  });
}

const earlyBody = (seconds: number) =>
  JSON.stringify({ errors: [{ message: `Too many requests: retry in ${seconds} s`, extensions: { code: 'RATE_LIMITED', retryAfterSeconds: seconds } }] });

interface TenantState {
  count: number;
  cost: number;
  queue: { cost: number; admit: () => void }[];
}

/**
 * Keeps one tenant's flood from starving the others.
 * - Refusals are cheap: a principal this instance knows to be over budget is refused before its body is read (the
 *   token looked up in the verifier's cache, the state in the rate limiter's local view, a prebuilt answer, one
 *   counter), else before parse/validate/plan (`enter`).
 * - Refusals are slow: that early answer is held for `refusalHoldMs` (1 s; never past the refill). A flood that does
 *   not wait for Retry-After (200 connections sent ~45,000 requests a second, bench/fairness.ts) spent most of a core
 *   on refusals alone, however cheap each was made (so roughly 20 µs each: derived, not measured per refusal); held,
 *   each of its connections gets one answer a second. Behind a proxy that pools upstream connections a held refusal occupies its connection like a slow
 *   request: the proxy opens another one for the next request.
 * - A tenant cannot occupy more than its share: at most `maxConcurrentPerTenant` operations in flight (refused at
 *   once beyond), and at most `maxInFlightCostPerTenant` of estimated cost executing; operations past that wait in
 *   a short per-tenant queue (refused when it is full or the wait is too long). Another tenant's operations never
 *   wait behind them: the event loop only ever carries a bounded amount of each tenant's work.
 */
export function tenantFairness(opts: FairnessOptions): Fairness {
  const tenants = new Map<string, TenantState>();
  const stateOf = (tenant: string) => {
    let s = tenants.get(tenant);
    if (!s) tenants.set(tenant, (s = { count: 0, cost: 0, queue: [] }));
    return s;
  };
  const bodies = new Map<number, string>();
  const drain = (s: TenantState) => {
    while (s.queue.length) {
      const next = s.queue[0];
      if (!next || (s.cost > 0 && s.cost + next.cost > opts.maxInFlightCostPerTenant)) return;
      s.queue.shift();
      fairShareQueued.dec();
      s.cost += next.cost;
      next.admit();
    }
  };
  return {
    refuseEarly(authorization) {
      if (!authorization || authorization.slice(0, 7).toLowerCase() !== 'bearer ') return null;
      const principal = opts.peekToken(authorization.slice(7).trim());
      if (!principal) return null;
      const s = tenants.get(principal.tenant);
      // The tenant at its cap of operations, or with its fair-share queue full: refused as cheaply as a spent budget.
      const busy = s !== undefined && (s.count >= opts.maxConcurrentPerTenant || s.queue.length >= opts.maxQueuedPerTenant);
      const spentFor = busy ? 1000 : opts.knownSpentNow(principal);
      if (spentFor === null) return null;
      // Held until the budget refills at the latest; Retry-After counts from the moment the answer is written.
      const holdMs = Math.min(opts.refusalHoldMs, spentFor);
      const seconds = Math.max(1, Math.ceil((spentFor - holdMs) / 1000));
      let body = bodies.get(seconds);
      if (body === undefined) bodies.set(seconds, (body = earlyBody(seconds)));
      rateLimitRefusals.inc({ kind: principal.kind });
      return { status: 429, headers: { 'content-type': 'application/json; charset=utf-8', 'retry-after': String(seconds) }, body, holdMs };
    },
    async enter(principal, admission) {
      const spentFor = await opts.knownSpent(principal);
      if (spentFor !== null) {
        const seconds = Math.max(1, Math.ceil(spentFor / 1000));
        throw refused(`Rate limit exceeded: retry in ${seconds} s`, seconds);
      }
      const s = stateOf(principal.tenant);
      if (s.count >= opts.maxConcurrentPerTenant) throw refused(`Too many operations of this tenant in flight (at most ${opts.maxConcurrentPerTenant})`, 1);
      s.count += 1;
      admission.tenant = principal.tenant;
    },
    async admitCost(admission, cost) {
      if (admission.tenant === undefined) return;
      const s = stateOf(admission.tenant);
      if (s.cost === 0 || s.cost + cost <= opts.maxInFlightCostPerTenant) {
        s.cost += cost;
        admission.cost = cost;
        return;
      }
      if (s.queue.length >= opts.maxQueuedPerTenant) throw refused('Too much of this tenant\'s work in flight: retry shortly', 1);
      await new Promise<void>((resolve, reject) => {
        const entry = {
          cost,
          admit: () => {
            clearTimeout(timer);
            admission.cost = cost;
            resolve();
          },
        };
        const timer = setTimeout(() => {
          const i = s.queue.indexOf(entry);
          if (i >= 0) {
            s.queue.splice(i, 1);
            fairShareQueued.dec();
          }
          reject(refused('Too much of this tenant\'s work in flight: retry shortly', 1));
        }, opts.maxQueueWaitMs);
        s.queue.push(entry);
        fairShareQueued.inc();
      });
    },
    leave(admission) {
      const tenant = admission?.tenant;
      if (!admission || tenant === undefined) return;
      admission.tenant = undefined;
      const s = stateOf(tenant);
      s.count -= 1;
      s.cost -= admission.cost;
      admission.cost = 0;
      drain(s);
      if (s.count <= 0 && s.queue.length === 0) tenants.delete(tenant);
    },
  };
}
