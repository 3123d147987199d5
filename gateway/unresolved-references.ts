import type { ApolloServerPlugin } from '@apollo/server';
import type { GraphQLFormattedError } from 'graphql';
import type { ErrorCode } from '../lib/errors';
import type { GatewayContext } from './context';

/** Code of the error a client gets where a system did not return an entity another system refers to. */
export const UNRESOLVED_REFERENCE: ErrorCode = 'UNRESOLVED_REFERENCE';

interface ValueCompletion {
  message: string;
  path?: readonly (string | number)[];
}

const isValueCompletion = (v: unknown): v is ValueCompletion =>
  typeof v === 'object' && v !== null && 'message' in v && typeof v.message === 'string';

/**
 * When a subgraph returns null for a non-null field of an entity that another subgraph refers to (an account deleted
 * in the CRM while billing still bills it), @apollo/gateway nulls the parent and reports it only in
 * `extensions.valueCompletion`, with no `errors`: the client sees a silent null. This turns each report into an
 * error on its path (UNRESOLVED_REFERENCE) and drops the extension. It must come before the plugins that store the
 * response (idempotency, response cache), so what they store is what the client got and an incomplete answer is never
 * cached.
 */
export function unresolvedReferencesPlugin(): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ response, contextValue }) {
          if (response.body.kind !== 'single') return;
          const result = response.body.singleResult;
          const reports = result.extensions?.['valueCompletion'];
          if (!Array.isArray(reports)) return;
          const errors: GraphQLFormattedError[] = reports.filter(isValueCompletion).map((r) => ({
            message: r.message,
            ...(r.path ? { path: r.path } : {}),
            extensions: { code: UNRESOLVED_REFERENCE, correlationId: contextValue.correlationId },
          }));
          const { valueCompletion: _dropped, ...rest } = result.extensions ?? {};
          result.extensions = rest;
          result.errors = [...(result.errors ?? []), ...errors];
        },
      };
    },
  };
}
