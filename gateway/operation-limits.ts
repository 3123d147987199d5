import type { ApolloServerPlugin } from '@apollo/server';
import { type DocumentNode, type GraphQLError, Kind, type OperationDefinitionNode, type SelectionSetNode } from 'graphql';
import { type ErrorCode, refusal } from '../lib/errors';
import { fragmentMap } from './cost';
import type { GatewayContext } from './context';

export interface OperationLimits {
  /** Depth of data fields. @default 12 */
  maxDepth: number;
  /**
   * Depth below `__schema`/`__type`, bounded on its own: the standard introspection query (graphql-js
   * `getIntrospectionQuery()`, what GraphiQL, codegen and graphql-inspector send) is 15 deep. @default 20
   */
  maxIntrospectionDepth: number;
  /** Nesting of the request's variables (lists and objects); deeper input is refused before it is coerced. @default 32 */
  maxVariableDepth: number;
  /** @default 30 */
  maxAliases: number;
  /** @default 20 */
  maxRootFields: number;
  /** Enforced by the parser (`parseOptions.maxTokens`). @default 3000 */
  maxTokens: number;
  /** Introspection is only answered for callers with the `admin` scope. */
  introspectionForAdminsOnly: boolean;
}

export const DEFAULT_OPERATION_LIMITS: OperationLimits = {
  maxDepth: 12, maxIntrospectionDepth: 20, maxVariableDepth: 32, maxAliases: 30, maxRootFields: 20, maxTokens: 3000, introspectionForAdminsOnly: false,
};

interface Shape {
  /** Depth of data fields (an introspection field's subtree is not data). */
  depth: number;
  /** Depth of `__schema`/`__type` fields and their subtrees; 0 when there are none. */
  introspectionDepth: number;
  aliases: number;
}

const NOTHING: Shape = { depth: 0, introspectionDepth: 0, aliases: 0 };

const shapes = new WeakMap<OperationDefinitionNode, Readonly<Shape & { rootFields: number }>>();

/** The operation's depths, aliases and root fields, measured once per operation node (a reused parsed document). */
export function operationShape(document: DocumentNode, operation: OperationDefinitionNode): Readonly<Shape & { rootFields: number }> {
  let shape = shapes.get(operation);
  if (!shape) shapes.set(operation, (shape = measureOperation(document, operation)));
  return shape;
}

function measureOperation(document: DocumentNode, operation: OperationDefinitionNode): Shape & { rootFields: number } {
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
    let introspectionDepth = 0;
    let aliases = 0;
    for (const sel of selectionSet.selections) {
      let inner: Shape | null;
      if (sel.kind === Kind.FIELD) {
        if (sel.alias) aliases += 1;
        const below = sel.selectionSet ? measure(sel.selectionSet) : NOTHING;
        if (sel.name.value === '__schema' || sel.name.value === '__type') {
          inner = { depth: 0, introspectionDepth: Math.max(below.depth, below.introspectionDepth) + 1, aliases: below.aliases };
        } else {
          inner = { ...below, depth: below.depth + 1, introspectionDepth: below.introspectionDepth && below.introspectionDepth + 1 };
        }
      } else if (sel.kind === Kind.INLINE_FRAGMENT) {
        inner = measure(sel.selectionSet);
      } else {
        inner = fragmentShape(sel.name.value);
      }
      if (inner) {
        depth = Math.max(depth, inner.depth);
        introspectionDepth = Math.max(introspectionDepth, inner.introspectionDepth);
        aliases += inner.aliases;
      }
    }
    return { depth, introspectionDepth, aliases };
  };
  const shape = measure(operation.selectionSet);
  const rootFields = operation.selectionSet.selections.filter((s) => s.kind === Kind.FIELD && s.name.value !== '__typename').length;
  return { ...shape, rootFields };
}

/** The first depth (data or introspection), alias or root-field limit `shape` breaks, as the error to answer with (also used over WebSocket). */
export function shapeViolation(shape: ReturnType<typeof operationShape>, limits: OperationLimits): GraphQLError | null {
  if (shape.depth > limits.maxDepth) return refusal('DEPTH_LIMIT_EXCEEDED', `Query depth ${shape.depth} exceeds the maximum of ${limits.maxDepth}`);
  if (shape.introspectionDepth > limits.maxIntrospectionDepth) {
    return refusal('DEPTH_LIMIT_EXCEEDED', `Introspection depth ${shape.introspectionDepth} exceeds the maximum of ${limits.maxIntrospectionDepth}`);
  }
  if (shape.aliases > limits.maxAliases) return refusal('ALIAS_LIMIT_EXCEEDED', `${shape.aliases} aliases exceed the maximum of ${limits.maxAliases}`);
  if (shape.rootFields > limits.maxRootFields) return refusal('ROOT_FIELD_LIMIT_EXCEEDED', `${shape.rootFields} root fields exceed the maximum of ${limits.maxRootFields}`);
  return null;
}

/**
 * Is `value` (JSON: objects, arrays, scalars) nested deeper than `max`? Iterative, and stops at the first path past
 * `max`, so a 20,000-level variable costs nothing and overflows no stack (recursive coercion would, as an HTTP 500).
 */
export function nestedDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop() as [unknown, number];
    if (typeof v !== 'object' || v === null) continue;
    if (depth >= max) return true;
    for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
}

/**
 * Refuses abusive and unanswerable documents before any planning or subgraph work, each with its own code:
 * OPERATION_RESOLUTION_FAILURE (unknown `operationName`), SUBSCRIPTION_REQUIRES_WEBSOCKET, BAD_USER_INPUT (variables
 * nested too deep), DEPTH_LIMIT_EXCEEDED (data, and introspection on its own bound), ALIAS_LIMIT_EXCEEDED,
 * ROOT_FIELD_LIMIT_EXCEEDED, and (production) INTROSPECTION_DISABLED for non-admins. The token limit is the parser's;
 * its error is given the code TOKEN_LIMIT_EXCEEDED by `tokenLimitCode`.
 */
export function operationLimitsPlugin(limits: OperationLimits): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ document, operation, request, contextValue }) {
          // Apollo leaves the operation unresolved and lets the executor fail (HTTP 500): it is the client's mistake.
          if (!operation) {
            throw refusal('OPERATION_RESOLUTION_FAILURE', request.operationName ? `Unknown operation named "${request.operationName}"` : 'Name the operation to run: the document has several');
          }
          if (operation.operation === 'subscription') {
            throw refusal('SUBSCRIPTION_REQUIRES_WEBSOCKET', 'Subscriptions are served over WebSocket (graphql-transport-ws) on this URL and over SSE (graphql-sse) on /graphql/stream, not as plain HTTP requests');
          }
          if (nestedDeeperThan(request.variables, limits.maxVariableDepth)) {
            throw refusal('BAD_USER_INPUT', `Variables are nested deeper than ${limits.maxVariableDepth} levels`);
          }
          const shape = operationShape(document, operation);
          const violation = shapeViolation(shape, limits);
          if (violation) throw violation;
          if (limits.introspectionForAdminsOnly && shape.introspectionDepth > 0 && !contextValue.principal.scopes.has('admin')) {
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
