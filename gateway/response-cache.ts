import { createHash, randomBytes } from 'node:crypto';
import { type ApolloServerPlugin, HeaderMap } from '@apollo/server';
import type { Logger } from '../lib/logger';
import type { CacheStore } from '../lib/response-cache-store';
import type { GatewayContext } from './context';

/**
 * Tenant-safe whole-response caching for queries.
 *
 * Keys carry the operation (document, name, variables), the tenant and the caller's scope set; PRIVATE answers (the
 * subgraphs' @cacheControl hints decide) also carry the caller's `sub`. Each entry records the tenant's cache
 * generation at the time the request started, and a mutation through the gateway bumps that generation: an entry of
 * an older generation is a miss, so a client never reads its own write stale and no entry crosses tenants or scope
 * sets. The sync engine bumps it too when its writes reach a tenant's systems (lib/response-cache-store.ts). The
 * generation and both candidate entries (private, shared) come back in one Redis MGET.
 *
 * A hit is served without parsing: the stored `data` JSON is spliced into the serialized response in place of a
 * placeholder (`spliceCachedData`, called by the HTTP front), so a hit costs neither JSON.parse nor JSON.stringify
 * of the answer. Redis errors are misses; the request runs uncached.
 */
interface EntryMeta {
  generation: string;
  maxAge: number;
  scope: 'PUBLIC' | 'PRIVATE';
  cachedAt: number;
}

interface Lookup {
  generation: string;
  privateKey: string;
  sharedKey: string;
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

export function responseCache(cache: CacheStore, logger: Logger): ApolloServerPlugin<GatewayContext> {
  let failing = false;
  const degraded = (err: unknown) => {
    // One warning per outage, not one per request.
    if (!failing) logger.warn({ err }, 'response cache unavailable: serving uncached');
    failing = true;
  };
  const lookups = new WeakMap<GatewayContext, Lookup>();
  /** Requests whose operation actually ran (not refused by a limit, not replayed from an Idempotency-Key). */
  const executed = new WeakSet<GatewayContext>();

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
          lookups.set(contextValue, { generation: found.generation, privateKey, sharedKey: base });
          for (const raw of found.values) {
            if (raw === null) continue;
            const cut = raw.indexOf('\n');
            const meta = JSON.parse(raw.slice(0, cut)) as EntryMeta;
            if (meta.generation !== found.generation) continue;
            overallCachePolicy.replace({ maxAge: meta.maxAge, scope: meta.scope });
            metrics.responseCacheHit = true;
            const stored = raw.slice(cut + 1);
            const splice = contextValue.cacheSplice;
            // Over HTTP the front splices the stored JSON in; elsewhere (subscriptions' entity reads) it is parsed.
            if (splice) splice.data = stored;
            const age = Math.max(0, Math.round((Date.now() - meta.cachedAt) / 1000));
            return {
              body: { kind: 'single', singleResult: { data: splice ? { [PLACEHOLDER_FIELD]: true } : (JSON.parse(stored) as Record<string, unknown>) } },
              http: { status: undefined, headers: new HeaderMap([['age', String(age)]]) },
            };
          }
          return null;
        },

        async executionDidStart({ contextValue }) {
          executed.add(contextValue);
        },

        async willSendResponse({ response, operation, contextValue, overallCachePolicy, metrics }) {
          if (operation?.operation === 'mutation') {
            // Writes are never cached and invalidate what the tenant had cached (even a partly failed mutation may
            // have written something); a mutation that never ran (refused, replayed) wrote nothing.
            if (executed.has(contextValue)) await cache.bump(contextValue.principal.tenant).catch(degraded);
            return;
          }
          response.http.headers.set('x-cache', metrics.responseCacheHit ? 'HIT' : 'MISS');
          const lookup = lookups.get(contextValue);
          if (metrics.responseCacheHit || !lookup || response.body.kind !== 'single') return;
          const { data, errors } = response.body.singleResult;
          const policy = overallCachePolicy.policyIfCacheable();
          if (errors?.length || !data || !policy?.maxAge) return;
          const scope = policy.scope === 'PRIVATE' ? 'PRIVATE' : 'PUBLIC';
          // Filed under the generation read when the request started: if a write bumped it meanwhile, the entry is
          // already stale and will never be served.
          const meta: EntryMeta = { generation: lookup.generation, maxAge: policy.maxAge, scope, cachedAt: Date.now() };
          const key = scope === 'PRIVATE' ? lookup.privateKey : lookup.sharedKey;
          await cache.store(key, `${JSON.stringify(meta)}\n${JSON.stringify(data)}`, policy.maxAge).catch(degraded);
        },
      };
    },
  };
}
