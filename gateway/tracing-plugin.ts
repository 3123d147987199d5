import type { ApolloServerPlugin } from '@apollo/server';
import { trace } from '@opentelemetry/api';
import { startSpan, tracingEnabled } from '../lib/telemetry/tracing';
import type { GatewayContext } from './context';

/**
 * Spans for the phases Apollo Server runs before @apollo/gateway takes over (which traces validation, planning,
 * execution and each subgraph fetch itself: gateway.validate, gateway.plan, gateway.fetch...): parsing, and the
 * operation's name and type on the request's server span. Nothing at all when tracing is off.
 */
export function tracingPlugin(): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart() {
      if (!tracingEnabled()) return;
      return {
        async parsingDidStart() {
          const span = startSpan('graphql.parse');
          return async (err) => {
            if (err) span?.recordException(err);
            span?.end();
          };
        },
        async didResolveOperation({ operation, operationName }) {
          const server = trace.getActiveSpan();
          if (operation) server?.setAttribute('graphql.operation.type', operation.operation);
          if (operationName) server?.setAttribute('graphql.operation.name', operationName);
        },
      };
    },
  };
}
