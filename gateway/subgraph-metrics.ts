import type { GraphQLDataSource } from '@apollo/gateway';
import { GraphQLDataSourceRequestKind } from '@apollo/gateway/dist/datasources/types';
import { subgraphDuration, subgraphErrors, subgraphRequests } from '../lib/telemetry/gateway-metrics';
import type { GatewayContext } from './context';

/**
 * RED per subgraph: wraps a data source so each fetch of a query plan is counted and timed, with the codes of the
 * errors it returned (or `FETCH_FAILED` when it threw). Schema health checks are not counted.
 */
export function measuredDataSource(subgraph: string, source: GraphQLDataSource<GatewayContext>): GraphQLDataSource<GatewayContext> {
  return {
    async process(options) {
      if (options.kind !== GraphQLDataSourceRequestKind.INCOMING_OPERATION) return source.process(options);
      const started = performance.now();
      subgraphRequests.inc({ subgraph });
      try {
        const response = await source.process(options);
        const codes = new Set((response.errors ?? []).map((e) => String(e.extensions?.['code'] ?? 'INTERNAL_SERVER_ERROR')));
        for (const code of codes) subgraphErrors.inc({ subgraph, code });
        return response;
      } catch (err) {
        subgraphErrors.inc({ subgraph, code: 'FETCH_FAILED' });
        throw err;
      } finally {
        subgraphDuration.observe({ subgraph }, (performance.now() - started) / 1000);
      }
    },
  };
}
