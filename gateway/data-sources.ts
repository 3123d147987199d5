import { type GraphQLDataSource, RemoteGraphQLDataSource } from '@apollo/gateway';
import type { Fetcher } from '@apollo/utils.fetcher';
import { FORWARDED_CLAIMS_HEADER, type ForwardedRequest } from '../lib/auth/forwarded';
import type { Principal } from '../lib/auth/principal';
import { CORRELATION_HEADER } from '../lib/correlation';
import type { GatewayContext } from './context';
import { injectTraceHeaders } from '../lib/telemetry/tracing';
import { unavailableAsFieldErrors } from './subgraph-unavailable';

export interface DataSourceOptions {
  fetcher: Fetcher;
  signClaims: (principal: Principal, request: ForwardedRequest) => Promise<string>;
}

/**
 * One data source per subgraph: forwards the claims, signed for this very request, and the correlation id on every
 * fetch; a subgraph that cannot be reached nulls its own fields only (SUBGRAPH_UNAVAILABLE).
 */
export function subgraphDataSource(name: string, url: string, opts: DataSourceOptions): GraphQLDataSource {
  const remote = new RemoteGraphQLDataSource<GatewayContext>({
    url,
    fetcher: opts.fetcher,
    async willSendRequest({ request, context }) {
      // The gateway also calls subgraphs without a request context (schema health checks); those carry no claims.
      if (!context?.principal || !request.http) return;
      request.http.headers.set(FORWARDED_CLAIMS_HEADER, await opts.signClaims(context.principal, request));
      request.http.headers.set(CORRELATION_HEADER, context.correlationId);
      // W3C traceparent of the gateway.fetch span: the subgraph's spans join the request's trace.
      injectTraceHeaders((name, value) => request.http?.headers.set(name, value));
    },
  });
  return unavailableAsFieldErrors(name, remote);
}
