import type { ApolloServer } from '@apollo/server';
import { type ExecutionArgs, type ExecutionResult, GraphQLError, type GraphQLSchema, createSourceEventStream, getOperationAST, getVariableValues } from 'graphql';
import type { Principal } from '../../lib/auth/principal';
import { type ErrorCode, fieldError } from '../../lib/errors';
import type { Logger } from '../../lib/logger';
import type { GatewayContext } from '../context';
import type { OperationLimits } from '../operation-limits';
import type { RateLimits } from '../rate-limit';
import { type PartnerDocumentRule, derivedExecution, documentHash } from '../trusted-documents';
import { type DocumentChecker, documentChecker } from './documents';
import type { FanOut, Sink } from './fanout';
import { type ExecuteAsSubscriber, aliasAwareFieldResolver } from './federated';
import { type SubscriptionContext, buildSubscriptionSchema } from './schema';
import type { Slot, subscriptionSlots } from './slots';

/** A subscribe as both transports receive it (graphql-ws `subscribe` payload, graphql-sse request body). */
export interface SubscribePayload {
  query: string;
  variables?: Record<string, unknown> | null;
  operationName?: string | null;
}

export interface SubscribeRequests {
  /** Swaps in a schema built on the gateway's new API schema. */
  updateSchema(apiSchema: GraphQLSchema): void;
  /**
   * Checks a subscribe (document limits, validation, operation, variables) and takes a slot; returns the execution
   * arguments (context with `sink`) or the refusal, every error carrying `correlationId`.
   */
  prepare(input: {
    principal: Principal;
    payload: SubscribePayload;
    correlationId: string;
    /** Subscriptions already running on the caller's connection. */
    onConnection: number;
    sink: Sink;
    transport: string;
  }): Promise<{ args: ExecutionArgs; slot: Slot } | { errors: readonly GraphQLError[] }>;
}

export interface SubscribeRequestOptions {
  apollo: ApolloServer<GatewayContext>;
  fanout: FanOut;
  slots: ReturnType<typeof subscriptionSlots>;
  operationLimits: OperationLimits;
  /** A partner may only send its registered documents (the HTTP endpoint's rule, trusted-documents.ts). */
  partnerDocuments: PartnerDocumentRule;
  /** The HTTP endpoint's rate limits: a subscribe spends its cost from the same budgets (gateway/rate-limit.ts). */
  charge: RateLimits['charge'];
  documentCacheBytes: number;
  production: boolean;
  logger: Logger;
}

const isAsyncGenerator = (value: unknown): value is AsyncGenerator<ExecutionResult> =>
  typeof value === 'object' && value !== null && Symbol.asyncIterator in value && 'return' in value;

/**
 * The root field's stream (its authorization, arguments and fan-out group decided by graphql-js as it executes the
 * subscribe), or the request error (FORBIDDEN, BAD_USER_INPUT) as an ExecutionResult.
 */
export async function openStream(args: ExecutionArgs): Promise<AsyncGenerator<ExecutionResult> | ExecutionResult> {
  const source = await createSourceEventStream(args);
  if (isAsyncGenerator(source)) return source;
  if ('errors' in source || 'data' in source) return source as ExecutionResult;
  return { errors: [fieldError('INTERNAL_SERVER_ERROR', 'subscription stream missing')] };
}

/** One path from a subscribe to execution arguments for every transport, so a check on one holds on the other. */
export function subscribeRequests(opts: SubscribeRequestOptions): SubscribeRequests {
  let current: { schema: GraphQLSchema; documents: DocumentChecker } | null = null;

  const executeAs = (principal: Principal, correlationId: string): ExecuteAsSubscriber => async (query, variables) => {
    // Generated from the subscriber's admitted document: marked so the partner rule does not refuse it.
    const contextValue = { principal, correlationId, derived: derivedExecution(query) };
    const response = await opts.apollo.executeOperation({ query, variables }, { contextValue });
    if (response.body.kind !== 'single') return { errors: [{ message: 'unexpected incremental response' }] };
    return { data: response.body.singleResult.data ?? null, errors: response.body.singleResult.errors };
  };

  return {
    updateSchema(apiSchema) {
      try {
        const schema = buildSubscriptionSchema(apiSchema);
        current = {
          schema,
          documents: documentChecker(schema, { limits: opts.operationLimits, cacheBytes: opts.documentCacheBytes, hideSuggestions: opts.production }),
        };
      } catch (err) {
        opts.logger.error({ err }, 'could not build the subscription schema');
      }
    },
    async prepare({ principal, payload, correlationId, onConnection, sink, transport }) {
      // Copies: checked documents' errors are cached and shared.
      const refuse = (errors: readonly GraphQLError[]) => ({
        errors: errors.map((e) => new GraphQLError(e.message, { nodes: e.nodes, extensions: { ...e.extensions, correlationId } })),
      });
      const loaded = current;
      if (!loaded) return refuse([fieldError('UPSTREAM_UNAVAILABLE', 'Schema not loaded yet')]);
      if (typeof payload.query !== 'string') return refuse([fieldError('BAD_REQUEST', 'A subscribe needs a query')]);
      const checked = await loaded.documents.check(payload.query);
      if ('errors' in checked) return refuse(checked.errors);
      const { document } = checked;
      // A partner may only send its registered documents: the exact text, or a registered one after normalisation
      // (which needs the parsed document, so after the document limits).
      const notAllowed = await opts.partnerDocuments(principal, { hash: documentHash(payload.query), document });
      if (notAllowed) return refuse([notAllowed]);
      const operation = getOperationAST(document, payload.operationName);
      if (!operation) return refuse([fieldError('BAD_REQUEST', 'Unable to identify the operation: name it with operationName')]);
      if (operation.operation !== 'subscription') {
        return refuse([fieldError('BAD_REQUEST', `Only subscriptions are served over ${transport}; send queries and mutations over HTTP`)]);
      }
      const variables = getVariableValues(loaded.schema, operation.variableDefinitions ?? [], payload.variables ?? {}, { maxErrors: 10, hideSuggestions: opts.production });
      if (variables.errors) {
        return refuse(variables.errors.map((e) => new GraphQLError(e.message, { nodes: e.nodes, extensions: { code: 'BAD_USER_INPUT' satisfies ErrorCode } })));
      }
      const limited = await opts.charge(principal, { schema: loaded.schema, document, operation, variables: variables.coerced });
      if (limited) return refuse([limited]);
      const slot = opts.slots.acquire(principal, onConnection);
      if (slot instanceof GraphQLError) return refuse([slot]);
      const contextValue: SubscriptionContext = { principal, execute: executeAs(principal, correlationId), sink, fanout: opts.fanout };
      return {
        slot,
        args: {
          schema: loaded.schema, document, operationName: payload.operationName ?? undefined, variableValues: payload.variables ?? undefined,
          contextValue, fieldResolver: aliasAwareFieldResolver, hideSuggestions: opts.production,
        },
      };
    },
  };
}
