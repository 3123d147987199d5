import type { ApolloServerPlugin } from '@apollo/server';
import type { GatewayContext } from './context';

/** Seconds a client is told to wait before retrying while a dependency (the database) is away. */
const RETRY_AFTER_SECONDS = 2;

/**
 * Subgraphs report an unreachable database as SERVICE_UNAVAILABLE errors inside a 200 response (partial data stays
 * usable). When a response has no data at all and only such errors, the gateway answers 503 with Retry-After, so
 * clients, proxies and load balancers retry instead of reporting a server fault.
 */
export function serviceUnavailablePlugin(): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ response }) {
          if (response.body.kind !== 'single') return;
          const { data, errors } = response.body.singleResult;
          if (!errors?.length || !errors.every((e) => e.extensions?.['code'] === 'SERVICE_UNAVAILABLE')) return;
          if (data != null && !Object.values(data).every((v) => v === null)) return;
          response.http.status = 503;
          response.http.headers.set('retry-after', String(RETRY_AFTER_SECONDS));
        },
      };
    },
  };
}
