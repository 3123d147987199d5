import {
  type DocumentNode, type FragmentDefinitionNode, type GraphQLCompositeType, type GraphQLSchema, type OperationDefinitionNode,
  type SelectionSetNode, type ValueNode, type FieldNode, type GraphQLField, Kind, getNamedType, getNullableType, isCompositeType, isListType, isObjectType,
  isInterfaceType, typeFromAST, getVariableValues,
} from 'graphql';
import { type CostModel, EMPTY_COST_MODEL } from './cost-model';

const fragmentMaps = new WeakMap<DocumentNode, ReadonlyMap<string, FragmentDefinitionNode>>();

/** The document's fragment definitions by name (once per document: Apollo Server reuses a parsed document per text). */
export function fragmentMap(document: DocumentNode): ReadonlyMap<string, FragmentDefinitionNode> {
  let fragments = fragmentMaps.get(document);
  if (!fragments) {
    const found = new Map<string, FragmentDefinitionNode>();
    for (const def of document.definitions) if (def.kind === Kind.FRAGMENT_DEFINITION) found.set(def.name.value, def);
    fragmentMaps.set(document, (fragments = found));
  }
  return fragments;
}

/**
 * The variables as execution will see them: the operation's defaults filled in (`query($n: Int = 100)` asks for 100
 * when `$n` is not sent) and values coerced to their types. Input that does not coerce is costed as sent: execution
 * refuses it anyway.
 */
export function coercedVariables(schema: GraphQLSchema, operation: OperationDefinitionNode, variables: Record<string, unknown>): Record<string, unknown> {
  try {
    return getVariableValues(schema, operation.variableDefinitions ?? [], variables, { maxErrors: 1 }).coerced ?? variables;
  } catch {
    // Input too deep to coerce (the operation limits refuse it with a code of its own).
    return variables;
  }
}

/** Size assumed for a list field with neither `@listSize` nor a `first`/`limit` argument. */
export const DEFAULT_LIST_SIZE = 10;
/** Weight of a root mutation field without `@cost` (a write costs more than a read, as in Apollo's demand control). */
export const DEFAULT_MUTATION_WEIGHT = 10;

/**
 * Estimated cost of an operation before it runs, by the IBM GraphQL cost directive specification as Apollo and Hive
 * apply it (gateway/cost-model.ts reads the annotations from the supergraph):
 * - a field costs its `@cost` weight, else its type's `@cost`, else 1 for an object (a record read), 0 for a scalar
 *   or enum (read with its record), DEFAULT_MUTATION_WEIGHT for a root mutation field; `@cost` arguments add theirs;
 * - a list multiplies its items' cost by its size: `@listSize(slicingArguments)` takes the argument sent (coerced
 *   variables, operation and schema defaults included), else `assumedSize`; `sizedFields` carries the size to the
 *   named child fields (a connection's `nodes` and `edges`) instead of the field itself;
 * - fields without `@listSize` keep the earlier estimate: `first`/`limit` multiplies the selection, other lists
 *   count DEFAULT_LIST_SIZE.
 * An operation costs at least 1.
 */
export function operationCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown> = {},
  model: CostModel = EMPTY_COST_MODEL,
): number {
  const fragments = fragmentMap(document);
  const root = schema.getRootType(operation.operation);
  if (!root) return 0;
  const values = coercedVariables(schema, operation, variables);
  const mutationRoot = operation.operation === 'mutation' ? root : undefined;

  const argNumber = (node: ValueNode | undefined): number | undefined => {
    if (!node) return undefined;
    if (node.kind === Kind.INT) return Number(node.value);
    if (node.kind === Kind.VARIABLE) {
      const v = values[node.name.value];
      return typeof v === 'number' ? v : undefined;
    }
    return undefined;
  };
  /** The value of a field's argument as execution sees it: sent, else the schema default. */
  const argValue = (sel: FieldNode, field: GraphQLField<unknown, unknown>, name: string): number | undefined => {
    const sent = argNumber(sel.arguments?.find((a) => a.name.value === name)?.value);
    if (sent !== undefined) return sent;
    const d = field.args.find((a) => a.name === name)?.defaultValue;
    return typeof d === 'number' ? d : undefined;
  };

  interface Sized { fields: ReadonlySet<string>; size: number }

  const walk = (selectionSet: SelectionSetNode, parent: GraphQLCompositeType, sized: Sized | undefined): number => {
    let cost = 0;
    for (const sel of selectionSet.selections) {
      if (sel.kind === Kind.FRAGMENT_SPREAD) {
        cost += fragmentCost(sel.name.value, sized);
        continue;
      }
      if (sel.kind === Kind.INLINE_FRAGMENT) {
        const type = sel.typeCondition ? typeFromAST(schema, sel.typeCondition) : parent;
        if (type && isCompositeType(type)) cost += walk(sel.selectionSet, type, sized);
        continue;
      }
      if (!(isObjectType(parent) || isInterfaceType(parent))) continue;
      const field = parent.getFields()[sel.name.value];
      if (!field) continue;
      const child = getNamedType(field.type);
      const composite = isCompositeType(child);
      const weight =
        model.fieldWeight(parent.name, field.name) ?? model.typeWeight(child.name) ??
        (parent === mutationRoot ? DEFAULT_MUTATION_WEIGHT : composite ? 1 : 0);
      let argumentsWeight = 0;
      for (const a of sel.arguments ?? []) argumentsWeight += model.argumentWeight(parent.name, field.name, a.name.value) ?? 0;
      const isList = isListType(getNullableType(field.type));
      const annotated = model.listSize(parent.name, field.name);
      let multiplier = 1;
      let childSized: Sized | undefined;
      if (sized?.fields.has(field.name)) {
        multiplier = sized.size;
      } else if (annotated) {
        const sliced = (annotated.slicingArguments ?? []).map((a) => argValue(sel, field, a)).filter((n): n is number => n !== undefined);
        const size = sliced.length ? Math.max(...sliced) : (annotated.assumedSize ?? DEFAULT_LIST_SIZE);
        if (annotated.sizedFields?.length) childSized = { fields: new Set(annotated.sizedFields), size };
        else multiplier = size;
      } else if (composite) {
        // Unannotated: the earlier estimate (page size multiplies the selection; a connection's lists are in it).
        const page = argValue(sel, field, 'first') ?? argValue(sel, field, 'limit');
        multiplier = page ?? (isList && !parent.name.endsWith('Connection') ? DEFAULT_LIST_SIZE : 1);
      } else if (isList) {
        multiplier = DEFAULT_LIST_SIZE;
      }
      const children = composite && sel.selectionSet ? walk(sel.selectionSet, child, childSized) : 0;
      cost += argumentsWeight + Math.max(0, multiplier) * (weight + children);
    }
    return cost;
  };
  // Each fragment is costed once per sizing context however often it is spread (its cost depends only on it, the
  // variables and that context): re-walking it per spread is exponential in nested fragments.
  const costed = new Map<string, number>();
  function fragmentCost(name: string, sized: Sized | undefined): number {
    const key = sized ? `${name}|${[...sized.fields].join(',')}|${sized.size}` : name;
    const known = costed.get(key);
    if (known !== undefined) return known;
    const frag = fragments.get(name);
    if (!frag) return 0;
    costed.set(key, 0); // a cycle (validation refuses those anyway) costs nothing more
    const type = typeFromAST(schema, frag.typeCondition);
    const cost = type && isCompositeType(type) ? walk(frag.selectionSet, type, sized) : 0;
    costed.set(key, cost);
    return cost;
  }
  return Math.max(1, walk(operation.selectionSet, root, undefined));
}

type CostOf = typeof operationCost;

/**
 * operationCost remembered per operation node (Apollo Server keeps one parsed document per query text, so a repeated
 * operation is the same node) and variables, up to `maxPerOperation` variable sets each. A new schema or model
 * starts over. The estimate is a pure function of these, so a remembered one is exact; it was ~4 % of the gateway's
 * CPU on a nested query.
 */
export function operationCostMemo(maxPerOperation = 64): CostOf {
  const memo = new WeakMap<OperationDefinitionNode, { schema: GraphQLSchema; model: CostModel | undefined; costs: Map<string, number> }>();
  return (schema, document, operation, variables = {}, model) => {
    let m = memo.get(operation);
    if (!m || m.schema !== schema || m.model !== model) memo.set(operation, (m = { schema, model, costs: new Map() }));
    const key = JSON.stringify(variables);
    let cost = m.costs.get(key);
    if (cost === undefined) {
      cost = operationCost(schema, document, operation, variables, model);
      if (m.costs.size >= maxPerOperation) m.costs.clear();
      m.costs.set(key, cost);
    }
    return cost;
  };
}
