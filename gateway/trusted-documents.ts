import { createHash } from 'node:crypto';
import type { ApolloServerPlugin } from '@apollo/server';
import type { DocumentNode, GraphQLError } from 'graphql';
import { z } from 'zod';
import type { Principal } from '../lib/auth/principal';
import type { Queryable } from '../lib/db/db';
import { refusal } from '../lib/errors';
import { normalizedHash } from '../lib/persisted-operations/manifest';
import { partnerOperationList } from '../lib/persisted-operations/store';
import type { GatewayContext } from './context';

const allowlists = z.record(z.string(), z.array(z.string().regex(/^[a-f0-9]{64}$/, 'must be sha256 hex')));

/** Parses PARTNER_OPERATIONS: partner `sub` -> sha256 hashes of the documents it may send. */
export function partnerAllowlists(raw: Record<string, unknown>): Map<string, ReadonlySet<string>> {
  const parsed = allowlists.safeParse(raw);
  if (!parsed.success) throw new Error(`Invalid configuration:\n  PARTNER_OPERATIONS: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  return new Map(Object.entries(parsed.data).map(([sub, hashes]) => [sub, new Set(hashes)]));
}

export const documentHash = (query: string): string => createHash('sha256').update(query).digest('hex');

/** What one partner may send: registered operations by id, and the hashes their texts are recognised by. */
export interface TrustedList {
  /** Persisted-query id -> operation text (registered manifests). */
  byId: ReadonlyMap<string, string>;
  /** `normalizedHash` of each registered operation: the text matches whatever its formatting and `__typename`s. */
  normalized: ReadonlySet<string>;
  /** sha256 of exact texts (PARTNER_OPERATIONS). */
  exact: ReadonlySet<string>;
}

export interface TrustedLists {
  /** The partner's list, or null when it has none (neither in PARTNER_OPERATIONS nor registered for its tenant). */
  forPartner(principal: Principal): Promise<TrustedList | null>;
}

/**
 * A partner's list is PARTNER_OPERATIONS' entry for its `sub` (exact texts, any tenant) together with the manifest
 * registered for it in its tenant (`registerPartnerOperations`, `npm run partner-operations`). Registered lists are read
 * from the database and kept `ttlMs` per instance: a new manifest is in force on every gateway within that time.
 */
export function trustedLists(opts: { env: Map<string, ReadonlySet<string>>; db?: Queryable; ttlMs?: number; maxCached?: number }): TrustedLists {
  const { env, db, ttlMs = 5_000, maxCached = 10_000 } = opts;
  const cache = new Map<string, { at: number; list: Promise<TrustedList | null> }>();
  const load = async (principal: Principal): Promise<TrustedList | null> => {
    const exact = env.get(principal.sub);
    const registered = db ? await partnerOperationList(db, principal.tenant, principal.sub) : null;
    if (!exact && !registered) return null;
    const ops = registered?.operations ?? [];
    return { byId: new Map(ops.map((o) => [o.id, o.body])), normalized: new Set(ops.map((o) => o.normalizedHash)), exact: exact ?? new Set() };
  };
  return {
    forPartner(principal) {
      const key = `${principal.tenant}\u0000${principal.sub}`;
      const hit = cache.get(key);
      if (hit && Date.now() - hit.at < ttlMs) return hit.list;
      if (cache.size >= maxCached) cache.clear();
      const list = load(principal);
      cache.set(key, { at: Date.now(), list });
      // A failed read is not remembered: the next request tries again.
      list.catch(() => cache.delete(key));
      return list;
    },
  };
}

/** Normalising a document costs a print and a hash: once per parsed document (Apollo reuses them per query text). */
const hashes = new WeakMap<DocumentNode, string>();
function normalizedHashOf(document: DocumentNode): string {
  let hash = hashes.get(document);
  if (hash === undefined) {
    hash = normalizedHash(document);
    hashes.set(document, hash);
  }
  return hash;
}

/** A document as the partner rule sees it: the sha256 of its exact text and the parsed document. */
export interface CheckedDocument {
  hash: string;
  document: DocumentNode;
}

/**
 * The partner rule, one for every path (HTTP operations, WebSocket subscribes): a partner token with a list may only
 * send operations on it (its exact text in PARTNER_OPERATIONS, or a registered operation's text after normalisation);
 * with `requireAllowlist` (PARTNER_ALLOWLIST_REQUIRED, on by default in production) a partner without a list may send
 * nothing. Returns the refusal (OPERATION_NOT_ALLOWED, 403), or null when the document may run.
 */
export type PartnerDocumentRule = (principal: Principal, document: CheckedDocument) => Promise<GraphQLError | null>;

export function partnerDocumentRule(lists: TrustedLists, opts: { requireAllowlist: boolean }): PartnerDocumentRule {
  return async (principal, { hash, document }) => {
    if (principal.kind !== 'partner') return null;
    const list = await lists.forPartner(principal);
    if (!list) return opts.requireAllowlist ? refusal('OPERATION_NOT_ALLOWED', 'This partner application has no registered operations') : null;
    if (list.exact.has(hash) || list.normalized.has(normalizedHashOf(document))) return null;
    return refusal('OPERATION_NOT_ALLOWED', 'This operation is not registered for your partner application');
  };
}

/**
 * Marks an execution the gateway runs itself on behalf of an admitted subscription (an entity field of an event, a
 * resume page): its document is generated from the subscriber's already-allowed document, so the partner rule does
 * not apply to it. Only objects made here count (a WeakSet of them), and only for the exact text they were made for;
 * the HTTP context function never sets one, so no request can carry it.
 */
export interface DerivedExecution {
  readonly hash: string;
}
const derived = new WeakSet<DerivedExecution>();

export function derivedExecution(query: string): DerivedExecution {
  const mark: DerivedExecution = Object.freeze({ hash: documentHash(query) });
  derived.add(mark);
  return mark;
}

const isDerivedFor = (mark: DerivedExecution | undefined, hash: string): boolean => mark !== undefined && derived.has(mark) && mark.hash === hash;

interface PersistedQueryExtension {
  version?: unknown;
  sha256Hash?: unknown;
}

/**
 * The partner rule on HTTP, before planning; the WebSocket server applies the same rule to each subscribe.
 *
 * Clients send a registered operation the way Apollo's persisted-query link does with a persisted-query list: only its
 * id in `extensions.persistedQuery.sha256Hash` (POST or GET); the id is resolved to the registered text here, before
 * Apollo looks at the request. A full text is matched after normalisation (`normalizedHash`), so Apollo Client's added
 * `__typename`s and reformatting do not make a registered operation unknown.
 */
export function trustedDocumentsPlugin(rule: PartnerDocumentRule, lists: TrustedLists): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart({ request, contextValue }) {
      const p = contextValue.principal;
      if (p.kind === 'partner' && request.query === undefined) {
        const persisted = request.extensions?.['persistedQuery'] as PersistedQueryExtension | undefined;
        const id = typeof persisted?.sha256Hash === 'string' ? persisted.sha256Hash : undefined;
        const body = id === undefined ? undefined : (await lists.forPartner(p))?.byId.get(id);
        if (body !== undefined) {
          // Served from the partner's list, not Apollo's automatic persisted queries: drop the extension so Apollo
          // takes the text as sent (a manifest id need not be the sha256 of the text).
          const { persistedQuery: _resolved, ...extensions } = request.extensions ?? {};
          request.query = body;
          request.extensions = extensions;
        }
      }
      return {
        async didResolveOperation({ queryHash, document, contextValue: ctx }) {
          // Apollo's queryHash is the sha256 hex of the query text, the same hash PARTNER_OPERATIONS holds.
          if (isDerivedFor(ctx.derived, queryHash)) return;
          const refused = await rule(ctx.principal, { hash: queryHash, document });
          if (refused) throw refused;
        },
      };
    },
  };
}
