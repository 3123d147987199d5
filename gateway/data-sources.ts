import { RemoteGraphQLDataSource } from '@apollo/gateway';
import type { Fetcher } from '@apollo/utils.fetcher';
import { FORWARDED_CLAIMS_HEADER, type ForwardedRequest } from '../lib/auth/forwarded';
import type { Principal } from '../lib/auth/principal';
import { CORRELATION_HEADER } from '../lib/correlation';
import type { GatewayContext } from './context';

export interface DataSourceOptions {
  fetcher: Fetcher;
  signClaims: (principal: Principal, request: ForwardedRequest) => Promise<string>;
}

/** One data source per subgraph: forwards the claims, signed for this very request, and the correlation id on every fetch. */
export function subgraphDataSource(url: string, opts: DataSourceOptions): RemoteGraphQLDataSource<GatewayContext> {
  return new RemoteGraphQLDataSource<GatewayContext>({
    url,
    fetcher: opts.fetcher,
    async willSendRequest({ request, context }) {
      // The gateway also calls subgraphs without a request context (schema health checks); those carry no claims.
      if (!context?.principal || !request.http) return;
      request.http.headers.set(FORWARDED_CLAIMS_HEADER, await opts.signClaims(context.principal, request));
      request.http.headers.set(CORRELATION_HEADER, context.correlationId);
    },
  });
}
