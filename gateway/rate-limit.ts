import type { ApolloServerPlugin } from '@apollo/server';
import { type DocumentNode, GraphQLError, type GraphQLSchema, type OperationDefinitionNode } from 'graphql';
import { z } from 'zod';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { Principal, TokenKind } from '../lib/auth/principal';
import type { Redis } from '../lib/redis';
import type { GatewayContext } from './context';
import { operationCostMemo } from './cost';
import { type CostModel, EMPTY_COST_MODEL } from './cost-model';
import { operationCostHistogram, rateLimitRefusals } from '../lib/telemetry/gateway-metrics';
import { MirroredLimiter } from './rate-limit-mirror';

/** Rate-limiter-flexible's in-memory limiter (one instance, no Redis), or the mirrored one in front of Redis. */
type Limiter = RateLimiterMemory | MirroredLimiter;

export interface RateLimits {
  plugin: ApolloServerPlugin<GatewayContext>;
  /**
   * The principal's last known state, without a round trip: ms until its (or its tenant's) budget refills when that
   * is known to be spent, null otherwise. Cheap enough to run before a request is parsed (gateway/fairness.ts).
   */
  knownSpent(principal: Principal): Promise<number | null>;
  /** The same from this instance's view alone, synchronously (null without one: the in-memory limiter). */
  knownSpentNow(principal: Principal): number | null;
  /**
   * Charges an operation that does not pass through Apollo (a subscribe over graphql-ws or SSE) as the HTTP path
   * charges one: its estimated cost against the principal's and then the tenant's budget. Returns the refusal
   * (COST_LIMIT_EXCEEDED over the maximum, RATE_LIMITED when a budget is spent) or null when admitted.
   */
  charge(principal: Principal, operation: OperationToCost): Promise<GraphQLError | null>;
}

/** An operation to estimate (gateway/cost.ts): its schema, document, operation and variables. */
export interface OperationToCost {
  schema: GraphQLSchema;
  document: DocumentNode;
  operation: OperationDefinitionNode;
  variables: Record<string, unknown>;
}

export interface RateLimitSettings {
  /** Window length in seconds. @default 60 */
  windowSeconds: number;
  /** Operations estimated above this cost are refused outright (COST_LIMIT_EXCEEDED). */
  maxOperationCost: number;
  /** Points per window per principal, by token kind (partners lower, so they cannot starve portals). */
  perKind: Record<TokenKind, number>;
  /** Points per window per tenant, all principals together. */
  perTenant: number;
  /** Overrides of the per-principal budget by tenant, and by partner (token `sub`). */
  tenantOverrides: Record<string, number>;
  partnerOverrides: Record<string, number>;
  /**
   * How long this instance may decide a key from its local view of the shared counter (no Redis round trip) after
   * Redis last answered for it; 0 asks Redis on every request. See MirroredLimiter. @default 1000
   */
  localDecisionMs: number;
  /** Points spent on locally decided requests reach Redis within this many ms (one command per key). @default 20 */
  flushMs: number;
  /** Operations of one tenant in flight at once on one gateway instance (gateway/fairness.ts). @default 64 */
  maxConcurrentPerTenant: number;
  /**
   * Estimated cost of one tenant's operations executing at once on one instance (gateway/fairness.ts); past it they
   * wait their turn. @default 2500 (two account 360s of 20 accounts and change)
   */
  maxInFlightCostPerTenant: number;
  /** Operations of one tenant waiting for that turn; beyond, 429. @default 32 */
  maxQueuedPerTenant: number;
  /** Longest wait for that turn before 429, ms. @default 5000 */
  maxQueueWaitMs: number;
  /**
   * A refusal decided before the body is read (a budget known spent, a tenant at its cap) is answered after this
   * many ms, never later than the budget refills (gateway/fairness.ts): a client that does not wait for Retry-After
   * sends one request per connection per hold, not thousands a second. 0 answers at once. @default 1000
   */
  refusalHoldMs: number;
  /** Refusals held at once on one instance; past it they are answered at once. @default 5000 */
  maxHeldRefusals: number;
}

export const DEFAULT_RATE_LIMITS: RateLimitSettings = {
  windowSeconds: 60,
  maxOperationCost: 200_000,
  perKind: { user: 1_000_000, partner: 100_000, service: 5_000_000 },
  perTenant: 10_000_000,
  tenantOverrides: {},
  partnerOverrides: {},
  localDecisionMs: 1000,
  flushMs: 20,
  maxConcurrentPerTenant: 64,
  maxInFlightCostPerTenant: 2500,
  maxQueuedPerTenant: 32,
  maxQueueWaitMs: 5000,
  refusalHoldMs: 1000,
  maxHeldRefusals: 5000,
};

interface Decision {
  limit: number;
  remaining: number;
  resetSeconds: number;
  /** Set when the request was refused. */
  retryAfter?: number;
}

/**
 * Cost-based rate limiting per principal and per tenant, on Redis so every gateway instance spends the same budget;
 * while Redis is unreachable each instance goes on from its last view of every counter and reconciles when Redis is
 * back (MirroredLimiter: the budget restarts neither when Redis is lost nor when it returns). A busy key is decided from this instance's
 * view of the Redis counter and spent in Redis without waiting (MirroredLimiter): no round trip on the hot path.
 * Rejections happen in didResolveOperation, before any subgraph is called.
 */
export interface CostOptions {
  /** The supergraph's @cost / @listSize annotations (gateway/cost-model.ts). */
  model?: CostModel;
  /**
   * `enforce` refuses operations above maxOperationCost (COST_LIMIT_EXCEEDED); `measure` refuses none on cost and
   * reports each operation's estimate in `extensions.cost` (to calibrate the limit on real traffic). Points are spent
   * by the estimate in both modes. @default 'enforce'
   */
  mode?: 'enforce' | 'measure';
  /** Called with each operation's cost once the rate limiter admitted it; may wait (the tenant's fair share) or throw. */
  admit?: (context: GatewayContext, cost: number) => Promise<void>;
}

export function rateLimits(settings: RateLimitSettings, redis: Redis | undefined, costs: CostOptions = {}): RateLimits {
  const model = costs.model ?? EMPTY_COST_MODEL;
  const operationCost = operationCostMemo();
  const measureOnly = costs.mode === 'measure';
  const measured = new WeakMap<GatewayContext, number>();
  const limiters = new Map<string, Limiter>();
  const limiter = (scope: 'principal' | 'tenant', points: number): Limiter => {
    const key = `${scope}:${points}`;
    const existing = limiters.get(key);
    if (existing) return existing;
    const base = { points, duration: settings.windowSeconds, keyPrefix: `rl:${scope}` };
    const created = redis
      ? new MirroredLimiter(new RateLimiterRedis({ ...base, storeClient: redis }), {
          freshMs: settings.localDecisionMs,
          flushMs: settings.flushMs,
        })
      : new RateLimiterMemory(base);
    limiters.set(key, created);
    return created;
  };
  const budgetOf = (p: Principal): number => {
    if (p.kind === 'partner' && settings.partnerOverrides[p.sub] !== undefined) return settings.partnerOverrides[p.sub] ?? 0;
    return settings.tenantOverrides[p.tenant] ?? settings.perKind[p.kind];
  };
  const decisions = new WeakMap<GatewayContext, Decision>();

  /** Spends `cost`, or answers how long until the budget allows it again. */
  const spend = async (l: Limiter, key: string, cost: number): Promise<RateLimiterRes | { retryAfter: number }> => {
    try {
      return await l.consume(key, cost);
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) return { retryAfter: Math.max(1, Math.ceil(rejection.msBeforeNext / 1000)) };
      throw rejection;
    }
  };
  const rateLimited = (retryAfter: number) =>
    new GraphQLError(`Rate limit exceeded: retry in ${retryAfter} s`, {
      extensions: { code: 'RATE_LIMITED', retryAfterSeconds: retryAfter, http: { status: 429 } },
    });
  const tooCostly = (cost: number) =>
    new GraphQLError(`Operation cost ${cost} exceeds the maximum of ${settings.maxOperationCost}`, {
      extensions: { code: 'COST_LIMIT_EXCEEDED', cost, maxCost: settings.maxOperationCost, http: { status: 400 } },
    });
  /** Spends `cost` or throws RATE_LIMITED; the headers of either outcome are set in willSendResponse. */
  const consume = async (ctx: GatewayContext, l: Limiter, key: string, cost: number): Promise<RateLimiterRes> => {
    const res = await spend(l, key, cost);
    if (res instanceof RateLimiterRes) return res;
    decisions.set(ctx, { limit: l.points, remaining: 0, resetSeconds: res.retryAfter, retryAfter: res.retryAfter });
    throw rateLimited(res.retryAfter);
  };

  const principalKey = (p: Principal) => `${p.tenant}:${p.kind}:${p.sub}`;
  const spentFor = async (l: Limiter, key: string): Promise<number | null> => {
    if (l instanceof MirroredLimiter) return l.knownSpent(key);
    const res = await l.get(key);
    return res && res.consumedPoints >= l.points ? res.msBeforeNext : null;
  };
  const knownSpentNow = (p: Principal): number | null => {
    const mine = limiter('principal', budgetOf(p));
    const tenant = limiter('tenant', settings.perTenant);
    if (!(mine instanceof MirroredLimiter) || !(tenant instanceof MirroredLimiter)) return null;
    return mine.knownSpent(principalKey(p)) ?? tenant.knownSpent(p.tenant);
  };
  const knownSpent = async (p: Principal) => (await spentFor(limiter('principal', budgetOf(p)), principalKey(p))) ?? spentFor(limiter('tenant', settings.perTenant), p.tenant);

  const plugin: ApolloServerPlugin<GatewayContext> = {
    async serverWillStart() {
      return {
        // Points spent on locally decided requests go to Redis before the instance goes away.
        async serverWillStop() {
          await Promise.all([...limiters.values()].map((l) => (l instanceof MirroredLimiter ? l.flush() : undefined)));
        },
      };
    },
    async requestDidStart() {
      return {
        async didResolveOperation({ document, operation, schema, request, contextValue }) {
          if (!operation) return;
          const cost = operationCost(schema, document, operation, request.variables ?? {}, model);
          if (measureOnly) measured.set(contextValue, cost);
          else if (cost > settings.maxOperationCost) throw tooCostly(cost);
          const p = contextValue.principal;
          operationCostHistogram.observe({ kind: p.kind }, cost);
          const budget = budgetOf(p);
          // In turn, not in parallel: a principal over its own limit must not keep draining its tenant's budget
          // (a throttled partner would starve the tenant's portals).
          const principalRes = await consume(contextValue, limiter('principal', budget), principalKey(p), cost);
          await consume(contextValue, limiter('tenant', settings.perTenant), p.tenant, cost);
          await costs.admit?.(contextValue, cost);
          decisions.set(contextValue, {
            limit: budget,
            remaining: principalRes.remainingPoints,
            resetSeconds: Math.ceil(principalRes.msBeforeNext / 1000),
          });
        },
        async willSendResponse({ response, contextValue }) {
          const cost = measured.get(contextValue);
          if (cost !== undefined && response.body.kind === 'single') {
            const r = response.body.singleResult;
            r.extensions = { ...r.extensions, cost: { estimated: cost, maxCost: settings.maxOperationCost, mode: 'measure' } };
          }
          const d = decisions.get(contextValue);
          if (!d) return;
          response.http.headers.set('ratelimit-limit', String(d.limit));
          response.http.headers.set('ratelimit-remaining', String(d.remaining));
          response.http.headers.set('ratelimit-reset', String(d.resetSeconds));
          if (d.retryAfter !== undefined) response.http.headers.set('retry-after', String(d.retryAfter));
        },
      };
    },
  };
  const charge = async (p: Principal, op: OperationToCost): Promise<GraphQLError | null> => {
    const cost = operationCost(op.schema, op.document, op.operation, op.variables, model);
    if (!measureOnly && cost > settings.maxOperationCost) return tooCostly(cost);
    operationCostHistogram.observe({ kind: p.kind }, cost);
    // In turn, as on HTTP: a principal over its own limit does not drain its tenant's budget.
    for (const [l, key] of [[limiter('principal', budgetOf(p)), principalKey(p)], [limiter('tenant', settings.perTenant), p.tenant]] as const) {
      const res = await spend(l, key, cost);
      if (!(res instanceof RateLimiterRes)) {
        rateLimitRefusals.inc({ kind: p.kind });
        return rateLimited(res.retryAfter);
      }
    }
    return null;
  };
  return { plugin, knownSpent, knownSpentNow, charge };
}

const budgets = z.record(z.string(), z.number().int().nonnegative());
const overridesSchema = z
  .object({
    windowSeconds: z.number().int().positive(),
    maxOperationCost: z.number().int().positive(),
    perKind: z.object({ user: z.number().int().positive(), partner: z.number().int().positive(), service: z.number().int().positive() }).partial(),
    perTenant: z.number().int().positive(),
    tenantOverrides: budgets,
    partnerOverrides: budgets,
    localDecisionMs: z.number().int().nonnegative(),
    flushMs: z.number().int().positive(),
    maxConcurrentPerTenant: z.number().int().positive(),
    maxInFlightCostPerTenant: z.number().int().positive(),
    maxQueuedPerTenant: z.number().int().nonnegative(),
    maxQueueWaitMs: z.number().int().positive(),
    refusalHoldMs: z.number().int().nonnegative().max(60_000),
    maxHeldRefusals: z.number().int().nonnegative(),
  })
  .partial()
  .strict();

/** Defaults merged with the RATE_LIMITS configuration; an unknown key or a bad value fails start-up. */
export function rateLimitSettings(overrides: Record<string, unknown>): RateLimitSettings {
  const parsed = overridesSchema.safeParse(overrides);
  if (!parsed.success) throw new Error(`Invalid configuration:\n  RATE_LIMITS: ${parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`);
  const o = parsed.data;
  return { ...DEFAULT_RATE_LIMITS, ...o, perKind: { ...DEFAULT_RATE_LIMITS.perKind, ...o.perKind } };
}
