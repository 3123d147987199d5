import {
  type FieldNode, type FragmentDefinitionNode, type GraphQLFieldResolver, type GraphQLFormattedError, type GraphQLResolveInfo, type SelectionSetNode,
  GraphQLError, defaultFieldResolver, print, visit,
} from 'graphql';

/** Marks objects that came back from a gateway execution: their keys are response keys (aliases), not field names. */
const FROM_GATEWAY = Symbol('fromGateway');

export interface ExecutionOutcome {
  data?: Record<string, unknown> | null;
  errors?: readonly GraphQLFormattedError[];
}

/** Runs an operation through the gateway (query plan, subgraphs, shield, tenant scoping) as the subscriber. */
export type ExecuteAsSubscriber = (query: string, variables: Record<string, unknown>) => Promise<ExecutionOutcome>;

/**
 * Field resolver for subscription payloads: objects fetched through the gateway are read by response key, so
 * aliases in the subscriber's selection work; everything else resolves as usual.
 */
export const aliasAwareFieldResolver: GraphQLFieldResolver<unknown, unknown> = (source, args, ctx, info) => {
  if (source && typeof source === 'object' && FROM_GATEWAY in source) return (source as Record<string, unknown>)[String(info.path.key)];
  return defaultFieldResolver(source, args, ctx, info);
};

function fragmentsUsed(selection: SelectionSetNode, all: Record<string, FragmentDefinitionNode>): FragmentDefinitionNode[] {
  const found = new Map<string, FragmentDefinitionNode>();
  const walk = (node: SelectionSetNode) =>
    visit(node, {
      FragmentSpread(spread) {
        const frag = all[spread.name.value];
        if (frag && !found.has(frag.name.value)) {
          found.set(frag.name.value, frag);
          walk(frag.selectionSet);
        }
      },
    });
  walk(selection);
  return [...found.values()];
}

/**
 * The query text for an entity field, printed once per field node: the node (and so the subscriber's selection) is
 * the same object for every event of a subscription, and for every subscription sharing the document.
 */
const queries = new WeakMap<FieldNode, string>();
function queryFor(rootField: string, info: GraphQLResolveInfo): string | null {
  const node = info.fieldNodes[0];
  const selection = node?.selectionSet;
  if (!node || !selection) return null;
  let query = queries.get(node);
  if (query === undefined) {
    const fragments = fragmentsUsed(selection, info.fragments).map((f) => print(f)).join('\n');
    query = `query SubscriptionField($id: ID!) { result: ${rootField}(id: $id) ${print(selection)} }\n${fragments}`;
    queries.set(node, query);
  }
  return query;
}

/**
 * Resolves an entity field of an event (`job`, `account`) by executing `rootField(id: $id)` through the gateway with
 * the subscriber's own selection set and credentials. Errors come back at their paths: a denied `balance` is null
 * with a FORBIDDEN error on `syncStatusChanged.account.balance`, exactly as a query would show it.
 */
export async function resolveThroughGateway(
  execute: ExecuteAsSubscriber,
  rootField: string,
  id: string,
  info: GraphQLResolveInfo,
): Promise<unknown> {
  const query = queryFor(rootField, info);
  if (!query) return null;
  const outcome = await execute(query, { id });
  const value = outcome.data?.['result'] ?? null;
  const first = outcome.errors?.[0];
  if (value === null && first) throw new GraphQLError(first.message, { extensions: first.extensions });
  const marked = mark(value);
  for (const error of outcome.errors ?? []) placeError(marked, error);
  return marked;
}

function mark(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(mark);
  if (value && typeof value === 'object') {
    const copy: Record<string | symbol, unknown> = {};
    for (const [k, v] of Object.entries(value)) copy[k] = mark(v);
    Object.defineProperty(copy, FROM_GATEWAY, { value: true, enumerable: false });
    return copy;
  }
  return value;
}

/** Puts the error where its field was, so graphql-js reports it at that path (a field value that is an Error throws). */
function placeError(root: unknown, error: GraphQLFormattedError): void {
  const path = error.path?.slice(1) ?? [];
  if (path.length === 0) return;
  let parent: unknown = root;
  for (const key of path.slice(0, -1)) {
    if (!parent || typeof parent !== 'object') return;
    parent = (parent as Record<string | number, unknown>)[key];
  }
  const last = path[path.length - 1];
  if (parent && typeof parent === 'object' && last !== undefined) {
    (parent as Record<string | number, unknown>)[last] = new GraphQLError(error.message, { extensions: error.extensions });
  }
}
