import { GraphQLError } from 'graphql';
import type { Principal } from '../lib/auth/principal';

export interface FairnessOptions {
  /** Operations of one tenant the gateway runs at once; the next ones are refused with 429 until one ends. */
  maxConcurrentPerTenant: number;
  /**
   * The principal's last known rate-limit state, without a round trip: milliseconds until its budget refills when
   * it is known to be spent, null otherwise (see RateLimits.knownSpent in rate-limit.ts).
   */
  knownSpent: (principal: Principal) => Promise<number | null>;
}

export interface Fairness {
  /**
   * Admits one operation of `principal` for `context` (the request's context object), or throws RATE_LIMITED (429)
   * before the document is parsed, validated or planned. Every admission is ended with `leave(context)`.
   */
  enter(principal: Principal, context: object): Promise<void>;
  leave(context: object | undefined): void;
}

function refused(message: string, retryAfterSeconds: number): GraphQLError {
  return new GraphQLError(message, {
    extensions: { code: 'RATE_LIMITED', retryAfterSeconds, http: { status: 429, headers: new Map([['retry-after', String(retryAfterSeconds)]]) } },
  });
}

/**
 * Keeps one tenant's flood from starving the others. The costly part of a refused request was the work done before
 * the rate limiter said no (parse, validate, plan, cost): a principal whose budget is known to be spent is refused
 * before any of it. And a tenant cannot occupy more than its share of the gateway: operations beyond
 * `maxConcurrentPerTenant` in flight are refused at once rather than queued behind the others' requests.
 */
export function tenantFairness(opts: FairnessOptions): Fairness {
  const active = new Map<string, number>();
  const admitted = new WeakMap<object, string>();
  return {
    async enter(principal, context) {
      const spentFor = await opts.knownSpent(principal);
      if (spentFor !== null) {
        const seconds = Math.max(1, Math.ceil(spentFor / 1000));
        throw refused(`Rate limit exceeded: retry in ${seconds} s`, seconds);
      }
      const n = active.get(principal.tenant) ?? 0;
      if (n >= opts.maxConcurrentPerTenant) throw refused(`Too many operations of this tenant in flight (at most ${opts.maxConcurrentPerTenant})`, 1);
      active.set(principal.tenant, n + 1);
      admitted.set(context, principal.tenant);
    },
    leave(context) {
      const tenant = context ? admitted.get(context) : undefined;
      if (tenant === undefined || !context) return;
      admitted.delete(context);
      const n = (active.get(tenant) ?? 1) - 1;
      if (n <= 0) active.delete(tenant);
      else active.set(tenant, n);
    },
  };
}
