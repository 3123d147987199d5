import { RemoteGraphQLDataSource } from '@apollo/gateway';
import type { Fetcher } from '@apollo/utils.fetcher';
import { FORWARDED_CLAIMS_HEADER } from '../lib/auth/forwarded';
import type { Principal } from '../lib/auth/principal';
import { CORRELATION_HEADER } from '../lib/correlation';
import type { GatewayContext } from './context';
import { injectTraceHeaders } from '../lib/telemetry/tracing';

export interface DataSourceOptions {
  fetcher: Fetcher;
  signClaims: (principal: Principal) => Promise<string>;
}

/** One data source per subgraph: forwards the gateway-signed claims and the correlation id on every fetch. */
export function subgraphDataSource(url: string, opts: DataSourceOptions): RemoteGraphQLDataSource<GatewayContext> {
  return new RemoteGraphQLDataSource<GatewayContext>({
    url,
    fetcher: opts.fetcher,
    async willSendRequest({ request, context }) {
      // The gateway also calls subgraphs without a request context (schema health checks); those carry no claims.
      if (!context?.principal || !request.http) return;
      request.http.headers.set(FORWARDED_CLAIMS_HEADER, await opts.signClaims(context.principal));
      request.http.headers.set(CORRELATION_HEADER, context.correlationId);
      // W3C traceparent of the gateway.fetch span: the subgraph's spans join the request's trace.
      injectTraceHeaders((name, value) => request.http?.headers.set(name, value));
    },
  });
}
