import type { ApolloServerPlugin } from '@apollo/server';
import type { GatewayContext } from './context';

/**
 * Subgraph denials come back as FORBIDDEN errors inside a 200 response. When a response carries nothing but
 * denials (no root field has data), the gateway answers 403 so HTTP clients and proxies see the refusal.
 */
export function denialStatusPlugin(): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ response }) {
          if (response.body.kind !== 'single') return;
          const { data, errors } = response.body.singleResult;
          if (!errors?.length || !errors.every((e) => e.extensions?.['code'] === 'FORBIDDEN')) return;
          const nothing = data == null || Object.values(data).every((v) => v === null);
          if (nothing) response.http.status = 403;
        },
      };
    },
  };
}
