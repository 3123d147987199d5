import { createHash } from 'node:crypto';
import type { ApolloServerPlugin } from '@apollo/server';
import type { GraphQLError } from 'graphql';
import { z } from 'zod';
import type { Principal } from '../lib/auth/principal';
import { refusal } from '../lib/errors';
import type { GatewayContext } from './context';

const allowlists = z.record(z.string(), z.array(z.string().regex(/^[a-f0-9]{64}$/, 'must be sha256 hex')));

/** Parses PARTNER_OPERATIONS: partner `sub` -> sha256 hashes of the documents it may send. */
export function partnerAllowlists(raw: Record<string, unknown>): Map<string, ReadonlySet<string>> {
  const parsed = allowlists.safeParse(raw);
  if (!parsed.success) throw new Error(`Invalid configuration:\n  PARTNER_OPERATIONS: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  return new Map(Object.entries(parsed.data).map(([sub, hashes]) => [sub, new Set(hashes)]));
}

export const documentHash = (query: string): string => createHash('sha256').update(query).digest('hex');

/**
 * The partner rule, one for every path (HTTP operations, WebSocket subscribes): a partner token whose `sub` has an
 * allowlist may only send registered documents (by sha256 of the query text); with `requireAllowlist`
 * (PARTNER_ALLOWLIST_REQUIRED, on by default in production) a partner without an allowlist may send nothing.
 * Returns the refusal (OPERATION_NOT_ALLOWED, 403), or null when the document may run.
 */
export type PartnerDocumentRule = (principal: Principal, hash: string) => GraphQLError | null;

export function partnerDocumentRule(lists: Map<string, ReadonlySet<string>>, opts: { requireAllowlist: boolean }): PartnerDocumentRule {
  return (principal, hash) => {
    if (principal.kind !== 'partner') return null;
    const allowed = lists.get(principal.sub);
    if (!allowed) return opts.requireAllowlist ? refusal('OPERATION_NOT_ALLOWED', 'This partner application has no registered operations') : null;
    return allowed.has(hash) ? null : refusal('OPERATION_NOT_ALLOWED', 'This operation is not registered for your partner application');
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

/** The partner rule on HTTP, before planning. The WebSocket server applies the same rule to each subscribe. */
export function trustedDocumentsPlugin(rule: PartnerDocumentRule): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ queryHash, contextValue }) {
          // Apollo's queryHash is the sha256 hex of the query text, the same hash the allowlist holds.
          if (isDerivedFor(contextValue.derived, queryHash)) return;
          const refused = rule(contextValue.principal, queryHash);
          if (refused) throw refused;
        },
      };
    },
  };
}
