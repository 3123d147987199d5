import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The subgraphs composed into the supergraph, in composition order. */
export const SUBGRAPH_NAMES = ['crm', 'erp', 'billing', 'sync'] as const;
export type SubgraphName = (typeof SUBGRAPH_NAMES)[number];

export const SCHEMA_DIR = join(__dirname, '..', 'schema');
export const SUPERGRAPH_PATH = join(SCHEMA_DIR, 'supergraph.graphql');
/** The client-facing schema (API schema + subscriptions), written by `npm run compose`. */
export const API_SCHEMA_PATH = join(SCHEMA_DIR, 'api.graphql');
/** The last released client-facing schema: the baseline of the breaking-change check. */
export const RELEASED_API_SCHEMA_PATH = join(SCHEMA_DIR, 'released', 'api.graphql');

/** A subgraph's SDL: the shared types followed by the subgraph's own file. */
export function subgraphSdl(name: SubgraphName): string {
  const shared = readFileSync(join(SCHEMA_DIR, 'shared.graphql'), 'utf8');
  const own = readFileSync(join(SCHEMA_DIR, `${name}.graphql`), 'utf8');
  return `${own}\n${shared}`;
}

export function readSupergraph(): string {
  return readFileSync(SUPERGRAPH_PATH, 'utf8');
}

/** The gateway's own Subscription root and payload types; they extend the API schema, not a subgraph. */
export function readSubscriptionSdl(): string {
  return readFileSync(join(SCHEMA_DIR, 'subscriptions.graphql'), 'utf8');
}
