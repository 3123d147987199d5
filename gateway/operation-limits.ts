import type { ApolloServerPlugin } from '@apollo/server';
import { type DocumentNode, type GraphQLError, Kind, type OperationDefinitionNode, type SelectionSetNode } from 'graphql';
import { type ErrorCode, refusal } from '../lib/errors';
import { fragmentMap } from './cost';
import type { GatewayContext } from './context';

export interface OperationLimits {
  /** @default 12 */
  maxDepth: number;
  /** @default 30 */
  maxAliases: number;
  /** @default 20 */
  maxRootFields: number;
  /** Enforced by the parser (`parseOptions.maxTokens`). @default 3000 */
  maxTokens: number;
  /** Introspection is only answered for callers with the `admin` scope. */
  introspectionForAdminsOnly: boolean;
}

export const DEFAULT_OPERATION_LIMITS: OperationLimits = { maxDepth: 12, maxAliases: 30, maxRootFields: 20, maxTokens: 3000, introspectionForAdminsOnly: false };

interface Shape {
  depth: number;
  aliases: number;
  introspection: boolean;
}

const NOTHING: Shape = { depth: 0, aliases: 0, introspection: false };

export function operationShape(document: DocumentNode, operation: OperationDefinitionNode): Shape & { rootFields: number } {
  const fragments = fragmentMap(document);
  // Each fragment is measured once however often it is spread: re-walking it per spread is exponential in nested
  // fragments (`F1 { ...F2 ...F2 }`, `F2 { ...F3 ...F3 }`…), and this runs before any limit has refused the document.
  const measured = new Map<string, Shape>();
  const fragmentShape = (name: string): Shape | null => {
    const known = measured.get(name);
    if (known) return known;
    const frag = fragments.get(name);
    if (!frag) return null;
    measured.set(name, NOTHING); // a cycle (validation refuses those anyway) adds nothing
    const shape = measure(frag.selectionSet);
    measured.set(name, shape);
    return shape;
  };
  const measure = (selectionSet: SelectionSetNode): Shape => {
    let depth = 0;
    let aliases = 0;
    let introspection = false;
    for (const sel of selectionSet.selections) {
      let inner: Shape | null;
      if (sel.kind === Kind.FIELD) {
        if (sel.alias) aliases += 1;
        if (sel.name.value === '__schema' || sel.name.value === '__type') introspection = true;
        const below = sel.selectionSet ? measure(sel.selectionSet) : NOTHING;
        inner = { ...below, depth: below.depth + 1 };
      } else if (sel.kind === Kind.INLINE_FRAGMENT) {
        inner = measure(sel.selectionSet);
      } else {
        inner = fragmentShape(sel.name.value);
      }
      if (inner) {
        depth = Math.max(depth, inner.depth);
        aliases += inner.aliases;
        introspection ||= inner.introspection;
      }
    }
    return { depth, aliases, introspection };
  };
  const shape = measure(operation.selectionSet);
  const rootFields = operation.selectionSet.selections.filter((s) => s.kind === Kind.FIELD && s.name.value !== '__typename').length;
  return { ...shape, rootFields };
}

/** The first depth, alias or root-field limit `shape` breaks, as the error to answer with (also used over WebSocket). */
export function shapeViolation(shape: ReturnType<typeof operationShape>, limits: OperationLimits): GraphQLError | null {
  if (shape.depth > limits.maxDepth) return refusal('DEPTH_LIMIT_EXCEEDED', `Query depth ${shape.depth} exceeds the maximum of ${limits.maxDepth}`);
  if (shape.aliases > limits.maxAliases) return refusal('ALIAS_LIMIT_EXCEEDED', `${shape.aliases} aliases exceed the maximum of ${limits.maxAliases}`);
  if (shape.rootFields > limits.maxRootFields) return refusal('ROOT_FIELD_LIMIT_EXCEEDED', `${shape.rootFields} root fields exceed the maximum of ${limits.maxRootFields}`);
  return null;
}

/**
 * Refuses abusive documents before any planning or subgraph work, each with its own code: DEPTH_LIMIT_EXCEEDED,
 * ALIAS_LIMIT_EXCEEDED, ROOT_FIELD_LIMIT_EXCEEDED, and (production) INTROSPECTION_DISABLED for non-admins. The
 * token limit is the parser's; its error is given the code TOKEN_LIMIT_EXCEEDED by `tokenLimitCode`.
 */
export function operationLimitsPlugin(limits: OperationLimits): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ document, operation, contextValue }) {
          if (!operation) return;
          const shape = operationShape(document, operation);
          const violation = shapeViolation(shape, limits);
          if (violation) throw violation;
          if (limits.introspectionForAdminsOnly && shape.introspection && !contextValue.principal.scopes.has('admin')) {
            throw refusal('INTROSPECTION_DISABLED', 'Introspection is disabled');
          }
        },
      };
    },
  };
}

/** graphql-js reports the token limit as a syntax error; give it a code of its own. */
export function tokenLimitCode(message: string): ErrorCode | null {
  return /Document contains more tha[nt] \d+ tokens/.test(message) ? 'TOKEN_LIMIT_EXCEEDED' : null;
}
