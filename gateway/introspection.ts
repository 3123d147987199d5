import { type ApolloServerPlugin, HeaderMap } from '@apollo/server';
import { type GraphQLSchema, execute } from 'graphql';
import type { GatewayContext } from './context';
import { rootFieldNodes } from './root-fields';
import { buildSubscriptionSchema } from './subscriptions/schema';

const INTROSPECTION = new Set(['__schema', '__type', '__typename']);

/**
 * Answers queries that only introspect from the client schema (schema/api.graphql: the API schema plus the gateway's
 * Subscription root), so GraphiQL-style tools and `graphql-inspector introspect` see the subscriptions they can open
 * over WebSocket. @apollo/gateway alone would answer from its own schema, which has no Subscription root. It runs in
 * `responseForOperation`, after `didResolveOperation`, so the introspection limits and admin-only rule still apply.
 */
export function clientSchemaIntrospectionPlugin(): ApolloServerPlugin<GatewayContext> {
  // One client schema per API schema Apollo hands us (a new one each time the supergraph changes).
  const clientSchemas = new WeakMap<GraphQLSchema, GraphQLSchema>();
  const clientSchema = (api: GraphQLSchema): GraphQLSchema => {
    const built = clientSchemas.get(api) ?? buildSubscriptionSchema(api);
    clientSchemas.set(api, built);
    return built;
  };
  return {
    async requestDidStart() {
      return {
        async responseForOperation({ schema, document, operation, request, contextValue }) {
          if (operation.operation !== 'query' || !rootFieldNodes(document, operation).every((f) => INTROSPECTION.has(f.name.value))) return null;
          const result = await execute({
            schema: clientSchema(schema), document, operationName: request.operationName, variableValues: request.variables, contextValue,
          });
          return { http: { headers: new HeaderMap() }, body: { kind: 'single', singleResult: { data: result.data, errors: result.errors?.map((e) => e.toJSON()) } } };
        },
      };
    },
  };
}
