import { createHash, randomBytes } from 'node:crypto';
import { type ApolloServerPlugin, HeaderMap } from '@apollo/server';
import type { Logger } from '../lib/logger';
import type { CacheStore } from '../lib/response-cache-store';
import { responseCacheWaiting } from '../lib/telemetry/gateway-metrics';
import { answerContents, answerTags, mutationWrites } from './cache-entities';
import type { GatewayContext } from './context';

/**
 * Tenant-safe whole-response caching for queries, evicted per entity.
 *
 * Keys carry the operation (document, name, variables), the tenant and the caller's scope set; PRIVATE answers (the
 * subgraphs' @cacheControl hints decide) also carry the caller's `sub`. Each stored answer is tagged with what it
 * holds (gateway/cache-entities.ts: its entities by type and id, its lists, derived fields) and a write evicts only
 * the answers of its tenant holding what it wrote: mutations through any gateway instance here, sync writes from the
 * relay (subgraphs/sync/engine/cache-writes.ts). lib/response-cache-store.ts keeps a late store of an answer computed
 * before a write from landing after its eviction, so a client never reads its own write stale.
 *
 * - Concurrent misses for the same key in this process wait for the first one's answer instead of running again
 *   (x-cache: COALESCED), when that answer is shareable with them (PUBLIC, or PRIVATE and the same `sub`).
 * - Stale-on-error, opt in per entity type (`staleIfError`): an answer whose every entity type opted in is kept
 *   that many seconds past its max-age, and served (x-cache: STALE) instead of a fresh answer that lost data to a
 *   subgraph being away (SUBGRAPH_UNAVAILABLE). Evictions remove it like any other entry: stale never means written.
 *
 * A hit is served without parsing: the stored `data` JSON is spliced into the serialized response in place of a
 * placeholder (`spliceCachedData`, called by the HTTP front), so a hit costs neither JSON.parse nor JSON.stringify
 * of the answer. Redis errors are misses; the request runs uncached.
 */
interface EntryMeta {
  maxAge: number;
  scope: 'PUBLIC' | 'PRIVATE';
  cachedAt: number;
  /** Seconds past maxAge it may be served while a subgraph is down. */
  staleFor: number;
}

interface Entry {
  meta: EntryMeta;
  data: string;
}

/** What the first of several concurrent misses found, for the others. */
interface Shared extends Entry {
  sub: string;
}

interface Lookup {
  seq: number;
  privateKey: string;
  sharedKey: string;
  stale: Entry | undefined;
  /** The operation (document and name), for the memo of uncacheable ones. */
  operationKey: string;
  /** Set when this request is the one the others with its key wait for. */
  lead: ((shared: Shared | null) => void) | undefined;
}

type CacheOutcome = 'HIT' | 'MISS' | 'COALESCED' | 'STALE';

export interface ResponseCacheOptions {
  /** Entity type -> seconds past max-age its answers may be served while a subgraph is down. @default {} */
  staleIfError?: Readonly<Record<string, number>>;
  /** How long a coalesced request waits for the first one before running itself. @default 10000 */
  coalesceWaitMs?: number;
  /** The clock that ages entries. @default Date.now */
  now?: () => number;
}

/** This process's placeholder for spliced data: a field name no schema has, so it cannot collide with an answer. */
const PLACEHOLDER_FIELD = `__cached_${randomBytes(8).toString('hex')}`;
const PLACEHOLDER_JSON = JSON.stringify({ [PLACEHOLDER_FIELD]: true });

/** Replaces the placeholder of a cache hit with the stored data JSON; other responses pass through unchanged. */
export function spliceCachedData(ctx: GatewayContext | undefined, body: string): string {
  const data = ctx?.cacheSplice?.data;
  return data === undefined ? body : body.replace(PLACEHOLDER_JSON, () => data);
}

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

function parseEntry(raw: string): Entry {
  const cut = raw.indexOf('\n');
  return { meta: JSON.parse(raw.slice(0, cut)) as EntryMeta, data: raw.slice(cut + 1) };
}

const isFresh = (m: EntryMeta, now: number) => now - m.cachedAt < m.maxAge * 1000;
const isServableStale = (m: EntryMeta, now: number) => now - m.cachedAt < (m.maxAge + m.staleFor) * 1000;

/** Operations whose answers were not cacheable last time: not worth holding concurrent copies back for. */
const MAX_UNCACHEABLE = 1000;

export function responseCache(cache: CacheStore, logger: Logger, opts: ResponseCacheOptions = {}): ApolloServerPlugin<GatewayContext> {
  const staleIfError = opts.staleIfError ?? {};
  const coalesceWaitMs = opts.coalesceWaitMs ?? 10_000;
  const clock = opts.now ?? Date.now;
  let failing = false;
  const degraded = (err: unknown) => {
    // One warning per outage, not one per request.
    if (!failing) logger.warn({ err }, 'response cache unavailable: serving uncached');
    failing = true;
  };
  const lookups = new WeakMap<GatewayContext, Lookup>();
  const outcomes = new WeakMap<GatewayContext, CacheOutcome>();
  /** Requests whose operation actually ran (not refused by a limit, not replayed from an Idempotency-Key). */
  const executed = new WeakSet<GatewayContext>();
  const inFlight = new Map<string, Promise<Shared | null>>();
  const uncacheable = new Set<string>();

  const waitFor = (pending: Promise<Shared | null>) =>
    new Promise<Shared | null>((resolve) => {
      responseCacheWaiting.inc();
      let settled = false;
      const done = (s: Shared | null) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        responseCacheWaiting.dec();
        resolve(s);
      };
      const timer = setTimeout(() => done(null), coalesceWaitMs);
      timer.unref();
      void pending.then(done);
    });

  /** How long past max-age an answer holding these entity types may be served on error: the least of theirs. */
  const staleFor = (types: ReadonlySet<string>) => {
    if (!types.size) return 0;
    let least = Infinity;
    for (const t of types) least = Math.min(least, staleIfError[t] ?? 0);
    return least;
  };

  return {
    async requestDidStart() {
      return {
        async responseForOperation({ operation, request, queryHash, contextValue, overallCachePolicy, metrics }) {
          if (operation?.operation !== 'query') return null;
          const p = contextValue.principal;
          const base = sha(JSON.stringify([queryHash, request.operationName ?? null, request.variables ?? {}, p.tenant, [...p.scopes].sort()]));
          const privateKey = sha(`${base}|${p.sub}`);
          let found: Awaited<ReturnType<CacheStore['lookup']>>;
          try {
            found = await cache.lookup(p.tenant, [privateKey, base]);
            failing = false;
          } catch (err) {
            degraded(err);
            return null;
          }
          const now = clock();
          let hit: Entry | undefined;
          let stale: Entry | undefined;
          for (const raw of found.values) {
            if (raw === null) continue;
            const entry = parseEntry(raw);
            if (isFresh(entry.meta, now)) {
              hit = entry;
              break;
            }
            if (!stale && isServableStale(entry.meta, now)) stale = entry;
          }
          const operationKey = `${queryHash ?? ''}|${request.operationName ?? ''}`;
          const lookup: Lookup = { seq: found.seq, privateKey, sharedKey: base, stale, operationKey, lead: undefined };
          lookups.set(contextValue, lookup);
          if (!hit && !uncacheable.has(operationKey)) {
            const flightKey = `${p.tenant}|${base}`;
            const pending = inFlight.get(flightKey);
            if (pending) {
              const shared = await waitFor(pending);
              if (shared && (shared.meta.scope === 'PUBLIC' || shared.sub === p.sub)) {
                hit = shared;
                outcomes.set(contextValue, 'COALESCED');
              }
            } else {
              inFlight.set(flightKey, new Promise<Shared | null>((resolve) => {
                lookup.lead = (shared) => {
                  inFlight.delete(flightKey);
                  resolve(shared);
                };
              }));
            }
          }
          if (!hit) return null;
          if (!outcomes.has(contextValue)) outcomes.set(contextValue, 'HIT');
          overallCachePolicy.replace({ maxAge: hit.meta.maxAge, scope: hit.meta.scope });
          metrics.responseCacheHit = true;
          return { body: { kind: 'single', singleResult: { data: splice(contextValue, hit.data) } }, http: { status: undefined, headers: ageHeader(hit.meta, now) } };
        },

        async executionDidStart({ contextValue }) {
          executed.add(contextValue);
        },

        async willSendResponse({ response, operation, contextValue, overallCachePolicy, metrics, schema, document, request }) {
          const lookup = lookups.get(contextValue);
          try {
            if (operation?.operation === 'mutation') {
              // Writes are never cached and evict what they wrote (even a partly failed mutation may have written
              // something); a mutation that never ran (refused, replayed) wrote nothing.
              if (executed.has(contextValue) && document && response.body.kind === 'single') {
                const written = mutationWrites(schema, document, request.operationName, response.body.singleResult.data);
                await cache.evict(contextValue.principal.tenant, written).catch(degraded);
              }
              return;
            }
            if (metrics.responseCacheHit || !lookup || response.body.kind !== 'single' || !document) {
              response.http.headers.set('x-cache', outcomes.get(contextValue) ?? 'MISS');
              return;
            }
            const result = response.body.singleResult;
            if (lookup.stale && result.errors?.some((e) => e.extensions?.['code'] === 'SUBGRAPH_UNAVAILABLE')) {
              result.data = JSON.parse(lookup.stale.data) as Record<string, unknown>;
              result.errors = undefined;
              response.http.status = 200;
              response.http.headers.set('x-cache', 'STALE');
              for (const [k, v] of ageHeader(lookup.stale.meta, clock())) response.http.headers.set(k, v);
              return;
            }
            response.http.headers.set('x-cache', 'MISS');
            const policy = overallCachePolicy.policyIfCacheable();
            if (!result.errors?.length && result.data && !policy?.maxAge) {
              if (uncacheable.size >= MAX_UNCACHEABLE) uncacheable.clear();
              uncacheable.add(lookup.operationKey);
            }
            if (result.errors?.length || !result.data || !policy?.maxAge) return;
            const scope = policy.scope === 'PRIVATE' ? 'PRIVATE' : 'PUBLIC';
            const contents = answerContents(schema, document, request.operationName, result.data);
            const meta: EntryMeta = { maxAge: policy.maxAge, scope, cachedAt: clock(), staleFor: staleFor(contents.types) };
            const data = JSON.stringify(result.data);
            lookup.lead?.({ meta, data, sub: contextValue.principal.sub });
            lookup.lead = undefined;
            const key = scope === 'PRIVATE' ? lookup.privateKey : lookup.sharedKey;
            // Refused (false) when a write evicted one of its tags after this request's lookup: it may be stale already.
            await cache
              .store(contextValue.principal.tenant, key, `${JSON.stringify(meta)}\n${data}`, meta.maxAge + meta.staleFor, answerTags(contents), lookup.seq)
              .catch(degraded);
          } finally {
            lookup?.lead?.(null);
          }
        },
      };
    },
  };
}

function splice(ctx: GatewayContext, data: string): Record<string, unknown> {
  const holder = ctx.cacheSplice;
  // Over HTTP the front splices the stored JSON in; elsewhere (subscriptions' entity reads) it is parsed.
  if (!holder) return JSON.parse(data) as Record<string, unknown>;
  holder.data = data;
  return { [PLACEHOLDER_FIELD]: true };
}

function ageHeader(meta: EntryMeta, now: number): HeaderMap {
  return new HeaderMap([['age', String(Math.max(0, Math.round((now - meta.cachedAt) / 1000)))]]);
}
