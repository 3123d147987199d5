import { type DocumentNode, type FieldNode, Kind, type OperationDefinitionNode, type SelectionSetNode, parse } from 'graphql';
import { rootFieldScope } from '../lib/auth/policy';
import type { Principal, Scope } from '../lib/auth/principal';
import { SUBGRAPH_NAMES, type SubgraphName } from '../lib/schema';
import { fragmentMap } from './cost';

const rootFields = new WeakMap<OperationDefinitionNode, readonly FieldNode[]>();

/**
 * The root fields an operation selects, through inline fragments and fragment spreads (each fragment once); found once
 * per operation node (Apollo Server reuses a parsed document per text).
 */
export function rootFieldNodes(document: DocumentNode, operation: OperationDefinitionNode): readonly FieldNode[] {
  let found = rootFields.get(operation);
  if (!found) rootFields.set(operation, (found = collectRootFields(document, operation)));
  return found;
}

function collectRootFields(document: DocumentNode, operation: OperationDefinitionNode): FieldNode[] {
  const fragments = fragmentMap(document);
  const seen = new Set<string>();
  const collect = (set: SelectionSetNode): FieldNode[] =>
    set.selections.flatMap((s) => {
      if (s.kind === Kind.FIELD) return [s];
      if (s.kind === Kind.INLINE_FRAGMENT) return collect(s.selectionSet);
      const fragment = fragments.get(s.name.value);
      if (!fragment || seen.has(s.name.value)) return [];
      seen.add(s.name.value);
      return collect(fragment.selectionSet);
    });
  return collect(operation.selectionSet);
}

const isSubgraph = (name: string): name is SubgraphName => (SUBGRAPH_NAMES as readonly string[]).includes(name);

/**
 * Which scope each mutation root field of the supergraph needs, from the one policy table (lib/auth/policy.ts) and
 * the subgraph the supergraph resolves the field in (`@join__field(graph:)`). The gateway uses it where it answers a
 * mutation without running it (an Idempotency-Key replay) and so without the subgraph's own check.
 */
export function mutationScopes(supergraphSdl: string): ReadonlyMap<string, Scope | 'public'> {
  const scopes = new Map<string, Scope | 'public'>();
  for (const def of parse(supergraphSdl).definitions) {
    if (def.kind !== Kind.OBJECT_TYPE_DEFINITION || def.name.value !== 'Mutation') continue;
    for (const field of def.fields ?? []) {
      const join = field.directives?.find((d) => d.name.value === 'join__field');
      const graph = join?.arguments?.find((a) => a.name.value === 'graph')?.value;
      const subgraph = graph?.kind === Kind.ENUM ? graph.value.toLowerCase() : '';
      if (isSubgraph(subgraph)) scopes.set(field.name.value, rootFieldScope(subgraph, 'Mutation', field.name.value));
    }
  }
  return scopes;
}

/** The scope `principal` lacks for one of the mutation's root fields, or null when it may run all of them. */
export function missingMutationScope(
  scopes: ReadonlyMap<string, Scope | 'public'>,
  principal: Principal,
  fields: readonly FieldNode[],
): string | null {
  for (const field of fields) {
    if (field.name.value === '__typename') continue;
    const scope = scopes.get(field.name.value);
    if (!scope) return 'unknown';
    if (scope !== 'public' && !principal.scopes.has(scope)) return scope;
  }
  return null;
}
