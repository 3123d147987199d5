import { type CompositionSuccess, composeServices } from '@apollo/composition';
import { type GraphQLSchema, parse } from 'graphql';
import { SUBGRAPH_NAMES, subgraphSdl } from './schema';

/** Composes the subgraph SDLs into a supergraph SDL, or throws with every composition error. */
export function composeSupergraph(): string {
  return compose().supergraphSdl;
}

/** The supergraph's API schema: what @apollo/gateway serves (join/link machinery and @inaccessible elements removed). */
export function composeApiSchema(): GraphQLSchema {
  return compose().schema.toAPISchema().toGraphQLJSSchema();
}

function compose(): CompositionSuccess {
  const result = composeServices(
    SUBGRAPH_NAMES.map((name) => ({
      name,
      // The URL is a placeholder: the gateway maps subgraph names to URLs from its config.
      url: `http://${name}.invalid/graphql`,
      typeDefs: parse(subgraphSdl(name)),
    })),
  );
  if (result.errors) {
    throw new Error(`Supergraph composition failed:\n${result.errors.map((e) => `- ${e.message}`).join('\n')}`);
  }
  return result;
}
