import type { ApolloServerPlugin } from '@apollo/server';
import { specOf } from '../lib/errors';
import type { GatewayContext } from './context';

/**
 * Field errors come back inside a 2xx response. When execution produced no data at all (`data: null`) and every error
 * carries a code the registry marks `whenNoData` (denials, systems down), the response gets that code's status (the
 * highest when they differ: a retryable 503 wins over 403), so HTTP clients and proxies see the refusal. A response
 * with non-null data stays 2xx, as the GraphQL-over-HTTP spec requires for application/graphql-response+json.
 */
export function responseStatusPlugin(): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ response }) {
          if (response.body.kind !== 'single') return;
          const { data, errors } = response.body.singleResult;
          if (data !== null || !errors?.length) return;
          const specs = errors.map((e) => specOf(e.extensions?.['code']));
          if (specs.every((s) => s.whenNoData)) response.http.status = Math.max(...specs.map((s) => s.status));
        },
      };
    },
  };
}
