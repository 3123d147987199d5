import type { GraphQLDataSource, GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import { GraphQLError, Kind, type OperationDefinitionNode, type SelectionSetNode, parse } from 'graphql';
import { fieldError } from '../lib/errors';

/** Statuses a proxy or load balancer answers with when the subgraph behind it is down. */
const GATEWAY_STATUSES = new Set([502, 503, 504]);

/**
 * Did the subgraph fail to answer at all? An HTTP answer is a GraphQLError from RemoteGraphQLDataSource with the
 * status in `extensions.response`; anything else thrown is a failure to get an answer (connection refused, reset,
 * timed out: socket errors, which are not always `instanceof Error` of this realm).
 */
function isUnavailable(err: unknown): boolean {
  if (!(err instanceof GraphQLError)) return true;
  const response = err.extensions['response'];
  const status = typeof response === 'object' && response !== null && 'status' in response ? response.status : undefined;
  return typeof status === 'number' && GATEWAY_STATUSES.has(status);
}

const responseKeys = (set: SelectionSetNode, typename: string | undefined): string[] =>
  set.selections.flatMap((s) => {
    if (s.kind === Kind.FIELD) return s.name.value === '__typename' ? [] : [s.alias?.value ?? s.name.value];
    if (s.kind === Kind.INLINE_FRAGMENT) return !s.typeCondition || s.typeCondition.name.value === typename ? responseKeys(s.selectionSet, typename) : [];
    return [];
  });

/**
 * The paths a failed fetch leaves null, in the subgraph's own terms: each root field of a root fetch, or each field
 * asked of each entity (`_entities.<i>.<field>`, which the gateway maps onto the entity's place in the answer).
 */
function unansweredPaths(query: string, variables: Record<string, unknown> | undefined): (string | number)[][] {
  const operation = parse(query).definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  if (!operation) return [];
  const entities = operation.selectionSet.selections.find((s) => s.kind === Kind.FIELD && s.name.value === '_entities');
  const representations = variables?.['representations'];
  if (entities?.kind !== Kind.FIELD || !entities.selectionSet || !Array.isArray(representations)) {
    return responseKeys(operation.selectionSet, undefined).map((key) => [key]);
  }
  const set = entities.selectionSet;
  return representations.flatMap((rep: unknown, i) => {
    const typename = typeof rep === 'object' && rep !== null && '__typename' in rep && typeof rep.__typename === 'string' ? rep.__typename : undefined;
    return responseKeys(set, typename).map((key) => ['_entities', i, key]);
  });
}

/**
 * A subgraph that cannot be reached must not fail the whole answer: the fetch is answered with null data and a
 * SUBGRAPH_UNAVAILABLE error on every field it was asked for, so the other subgraphs' data still reaches the client
 * (the fields a subgraph adds to another system's entity are nullable for this reason). Nothing is retried here: a
 * mutation may have reached the subgraph before the connection broke. Health checks and schema loads keep failing
 * loudly. Once the subgraph is back the next fetch simply succeeds (the keep-alive agent reconnects).
 */
export function unavailableAsFieldErrors(name: string, inner: GraphQLDataSource): GraphQLDataSource {
  return {
    async process(options: GraphQLDataSourceProcessOptions): ReturnType<GraphQLDataSource['process']> {
      try {
        return await inner.process(options);
      } catch (err) {
        if (options.kind !== 'incoming operation' || !isUnavailable(err) || !options.request.query) throw err;
        const message = `The ${name} system is unavailable; its fields are null`;
        const errors = unansweredPaths(options.request.query, options.request.variables).map((path) => ({
          ...fieldError('SUBGRAPH_UNAVAILABLE', message, { serviceName: name }).toJSON(),
          path,
        }));
        return { data: null, errors };
      }
    },
  };
}
