import { lexicographicSortSchema, printSchema } from 'graphql';
import { composeApiSchema } from '../lib/compose';
import { buildSubscriptionSchema } from './subscriptions/schema';

/**
 * The client-facing schema, printed: the supergraph's API schema extended with the gateway's Subscription root exactly
 * as the gateway extends it at run time, so schema/api.graphql is what clients can query, introspect and subscribe to.
 * Sorted, so the file changes only when the schema does (not when composition order or SDL layout does).
 */
export function printClientSchema(): string {
  return printSchema(lexicographicSortSchema(buildSubscriptionSchema(composeApiSchema())));
}
