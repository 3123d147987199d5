import { createHash } from 'node:crypto';
import type { ApolloServerPlugin } from '@apollo/server';
import { z } from 'zod';
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
 * Trusted documents for partners: a partner token whose `sub` has an allowlist may only send registered documents
 * (by sha256 of the query text). Anything else is refused with OPERATION_NOT_ALLOWED (403) before planning. With
 * `requireAllowlist` (PARTNER_ALLOWLIST_REQUIRED, on by default in production) a partner without an allowlist may
 * send nothing: a partner is registered with its documents or not at all.
 */
export function trustedDocumentsPlugin(lists: Map<string, ReadonlySet<string>>, opts: { requireAllowlist: boolean }): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ queryHash, contextValue }) {
          const p = contextValue.principal;
          if (p.kind !== 'partner') return;
          const allowed = lists.get(p.sub);
          if (!allowed) {
            if (!opts.requireAllowlist) return;
            throw refusal('OPERATION_NOT_ALLOWED', 'This partner application has no registered operations');
          }
          // Apollo's queryHash is the sha256 hex of the query text, the same hash the allowlist holds.
          if (!allowed.has(queryHash)) {
            throw refusal('OPERATION_NOT_ALLOWED', 'This operation is not registered for your partner application');
          }
        },
      };
    },
  };
}
