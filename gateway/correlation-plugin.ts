import type { ApolloServerPlugin } from '@apollo/server';
import { CORRELATION_HEADER } from '../lib/correlation';
import type { GatewayContext } from './context';

/** Returns the request's correlation id in a response header and in `extensions.correlationId` of every response. */
export function correlationPlugin(): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ response, contextValue }) {
          const id = contextValue.correlationId;
          response.http.headers.set(CORRELATION_HEADER, id);
          if (response.body.kind === 'single') {
            response.body.singleResult.extensions = { ...response.body.singleResult.extensions, correlationId: id };
          }
        },
        async didEncounterErrors({ errors, contextValue }) {
          // Keep the id on each error too: masked production errors still point support at the log line. Typed as
          // GraphQLErrors, but a failure outside execution (a subgraph fetch) arrives as a plain Error without
          // `extensions`; Apollo keeps an original error's extensions when it wraps it, so give it some.
          for (const error of errors as readonly { extensions?: Record<string, unknown> }[]) {
            error.extensions = { ...error.extensions, correlationId: contextValue.correlationId };
          }
        },
      };
    },
  };
}
