import {
  type DocumentNode, type FragmentDefinitionNode, type GraphQLCompositeType, type GraphQLSchema, type OperationDefinitionNode,
  type SelectionSetNode, type ValueNode, Kind, getNamedType, getNullableType, isCompositeType, isListType, isObjectType,
  isInterfaceType, typeFromAST, getVariableValues,
} from 'graphql';

/** The document's fragment definitions by name. */
export function fragmentMap(document: DocumentNode): Map<string, FragmentDefinitionNode> {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const def of document.definitions) if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);
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

/** Size assumed for a list field that takes no `first`/`limit` argument. */
export const DEFAULT_LIST_SIZE = 10;

/**
 * Estimated cost of an operation before it runs: one point per field, and a field's selection multiplied by the
 * page size it asks for (`first`/`limit`, else the argument's default, else DEFAULT_LIST_SIZE for lists). The list
 * fields of a connection (`nodes`, `edges`) are already counted by the connection's `first`. Variables are costed
 * with their coerced values, operation defaults included.
 */
export function operationCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown> = {},
): number {
  const fragments = fragmentMap(document);
  const root = schema.getRootType(operation.operation);
  if (!root) return 0;
  const values = coercedVariables(schema, operation, variables);

  const argNumber = (node: ValueNode | undefined): number | undefined => {
    if (!node) return undefined;
    if (node.kind === Kind.INT) return Number(node.value);
    if (node.kind === Kind.VARIABLE) {
      const v = values[node.name.value];
      return typeof v === 'number' ? v : undefined;
    }
    return undefined;
  };

  const walk = (selectionSet: SelectionSetNode, parent: GraphQLCompositeType): number => {
    let cost = 0;
    for (const sel of selectionSet.selections) {
      if (sel.kind === Kind.FRAGMENT_SPREAD) {
        cost += fragmentCost(sel.name.value);
        continue;
      }
      if (sel.kind === Kind.INLINE_FRAGMENT) {
        const type = sel.typeCondition ? typeFromAST(schema, sel.typeCondition) : parent;
        if (type && isCompositeType(type)) cost += walk(sel.selectionSet, type);
        continue;
      }
      if (!(isObjectType(parent) || isInterfaceType(parent))) continue;
      const field = parent.getFields()[sel.name.value];
      if (!field) continue;
      cost += 1;
      if (!sel.selectionSet) continue;
      const child = getNamedType(field.type);
      if (!isCompositeType(child)) continue;
      const pageArg = sel.arguments?.find((a) => a.name.value === 'first' || a.name.value === 'limit');
      const pageDefault = field.args.find((a) => a.name === 'first' || a.name === 'limit')?.defaultValue;
      const inConnection = parent.name.endsWith('Connection');
      const size =
        argNumber(pageArg?.value) ??
        (typeof pageDefault === 'number' ? pageDefault : undefined) ??
        (isListType(getNullableType(field.type)) && !inConnection ? DEFAULT_LIST_SIZE : 1);
      cost += Math.max(1, size) * walk(sel.selectionSet, child);
    }
    return cost;
  };
  // Each fragment is costed once however often it is spread (its cost depends only on it and the variables):
  // re-walking it per spread is exponential in nested fragments.
  const costed = new Map<string, number>();
  function fragmentCost(name: string): number {
    const known = costed.get(name);
    if (known !== undefined) return known;
    const frag = fragments.get(name);
    if (!frag) return 0;
    costed.set(name, 0); // a cycle (validation refuses those anyway) costs nothing more
    const type = typeFromAST(schema, frag.typeCondition);
    const cost = type && isCompositeType(type) ? walk(frag.selectionSet, type) : 0;
    costed.set(name, cost);
    return cost;
  }
  return walk(operation.selectionSet, root);
}
