import {
  type GraphQLField, type GraphQLObjectType, type GraphQLSchema, Kind, type ObjectTypeDefinitionNode, type ObjectTypeExtensionNode,
  getNamedType, isNonNullType, isObjectType, parse,
} from 'graphql';
import { SUBGRAPH_NAMES, type SubgraphName } from '../schema';
import { POLICY, fieldRule, subscriptionScope } from './policy';
import type { Scope } from './principal';

/**
 * What a field needs, as the composed API sees it: a scope, `'public'` (any caller of the tenant), or `'denied'` (no
 * rule opens it).
 */
export type FieldAuthorization = Scope | 'public' | 'denied';

/** For each supergraph object type, the subgraphs that resolve each of its fields (`@join__type` / `@join__field`). */
export type FieldOwners = ReadonlyMap<string, ReadonlyMap<string, readonly SubgraphName[]>>;

const isSubgraph = (name: string): name is SubgraphName => (SUBGRAPH_NAMES as readonly string[]).includes(name);

function graphsOf(node: { directives?: readonly { name: { value: string }; arguments?: readonly { name: { value: string }; value: { kind: string; value?: unknown } }[] }[] }, directive: string): SubgraphName[] {
  const graphs: SubgraphName[] = [];
  for (const d of node.directives ?? []) {
    if (d.name.value !== directive) continue;
    const args = d.arguments ?? [];
    const external = args.find((a) => a.name.value === 'external')?.value;
    if (external?.kind === Kind.BOOLEAN && external.value === true) continue;
    const graph = args.find((a) => a.name.value === 'graph')?.value;
    const name = graph?.kind === Kind.ENUM ? String(graph.value).toLowerCase() : '';
    if (isSubgraph(name)) graphs.push(name);
  }
  return graphs;
}

/** Reads which subgraphs resolve each object field from the supergraph SDL's join directives. */
export function fieldOwners(supergraphSdl: string): FieldOwners {
  const owners = new Map<string, Map<string, SubgraphName[]>>();
  for (const def of parse(supergraphSdl).definitions) {
    if (def.kind !== Kind.OBJECT_TYPE_DEFINITION && def.kind !== Kind.OBJECT_TYPE_EXTENSION) continue;
    const type: ObjectTypeDefinitionNode | ObjectTypeExtensionNode = def;
    const typeGraphs = graphsOf(type, 'join__type');
    const fields = owners.get(type.name.value) ?? new Map<string, SubgraphName[]>();
    for (const field of type.fields ?? []) {
      const own = graphsOf(field, 'join__field');
      const hasJoin = (field.directives ?? []).some((d) => d.name.value === 'join__field');
      fields.set(field.name.value, hasJoin ? own : typeGraphs);
    }
    owners.set(type.name.value, fields);
  }
  return owners;
}

/** A field whose authorization differs from the field that returned its parent. */
export interface AuthorizationBoundary {
  /** `Type.field` */
  coordinate: string;
  /** One path that reaches it, e.g. `Query.invoices.nodes.account.name`. */
  path: string;
  parent: FieldAuthorization;
  field: FieldAuthorization;
  nonNull: boolean;
  /**
   * Why a non-null boundary is fine here, when it is: root fields have no parent field. Their list and mutation fields
   * stay non-null so that an operation refused as a whole answers `data: null` with 403 (or 503 when a system is down),
   * as the gateway's status rule and its clients expect; a subscription operation has exactly one root field anyway.
   */
  exempt?: string;
}

interface Step {
  type: GraphQLObjectType;
  parent: FieldAuthorization;
  path: string;
}

/**
 * Walks the client schema from its root types with the policy table (lib/auth/policy.ts) and the supergraph's field
 * ownership, and returns every field whose authorization differs from its parent field's. Those are the places where
 * a token can be refused part of an answer: each must be nullable, so a refusal is a null with FORBIDDEN at its path
 * and not a null that bubbles up and wipes the answer around it.
 *
 * How a field's authorization is decided (as the subgraphs' shield rules decide it):
 * - a supergraph field: the rule of each subgraph that resolves it; a value type's field inherits its parent's. A field
 *   several subgraphs resolve (a `@key` id) counts as the parent's when one of them grants what the parent needed: the
 *   query planner resolves it in the parent's subgraph.
 * - the gateway's subscription root fields: `subscriptionScope`; their payload types' plain fields inherit it.
 * - a payload field returning an entity (`SyncStatusChange.account`) is a separate execution through the gateway: it
 *   needs what the Query field reading that entity by id needs (`account(id:)`: crm:read).
 * - a mutation's answer is the record it wrote, read by its subgraph's shield with the `read` scope: a token that may
 *   write but not read gets the (nullable) mutation field null, with FORBIDDEN at the fields it may not read.
 * Root types have no authorization of their own (`'public'`: any caller of the tenant).
 */
export function authorizationBoundaries(schema: GraphQLSchema, owners: FieldOwners): AuthorizationBoundary[] {
  const found = new Map<string, AuthorizationBoundary>();
  const visited = new Set<string>();
  const queue: Step[] = [];
  const push = (step: Step) => {
    const key = `${step.type.name}|${step.parent}`;
    if (visited.has(key)) return;
    visited.add(key);
    queue.push(step);
  };
  for (const root of [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()]) {
    if (root) push({ type: root, parent: 'public', path: root.name });
  }
  const roots = new Set([schema.getQueryType()?.name, schema.getMutationType()?.name, schema.getSubscriptionType()?.name]);
  for (let step = queue.shift(); step; step = queue.shift()) {
    for (const field of Object.values(step.type.getFields())) {
      const decided = decide(schema, owners, step, field);
      const path = `${step.path}.${field.name}`;
      if (decided.field !== step.parent) {
        const coordinate = `${step.type.name}.${field.name}`;
        const key = `${coordinate}|${step.parent}`;
        if (!found.has(key)) {
          found.set(key, {
            coordinate, path, parent: step.parent, field: decided.field, nonNull: isNonNullType(field.type),
            ...(roots.has(step.type.name) ? { exempt: 'a root field (no parent field)' } : {}),
          });
        }
      }
      const named = getNamedType(field.type);
      if (isObjectType(named)) push({ type: named, parent: decided.children, path });
    }
  }
  return [...found.values()].sort((a, b) => a.coordinate.localeCompare(b.coordinate) || a.parent.localeCompare(b.parent));
}

function decide(
  schema: GraphQLSchema,
  owners: FieldOwners,
  step: Step,
  field: GraphQLField<unknown, unknown>,
): { field: FieldAuthorization; children: FieldAuthorization } {
  const typeName = step.type.name;
  const supergraphFields = owners.get(typeName);
  if (supergraphFields) {
    const graphs = supergraphFields.get(field.name) ?? [];
    const auth = supergraphAuthorization(typeName, field.name, graphs, step.parent);
    // A mutation answers with the record it wrote, which its subgraph's shield reads with the read scope.
    const children = typeName === schema.getMutationType()?.name && graphs[0] ? POLICY[graphs[0]].read : auth;
    return { field: auth, children };
  }
  if (typeName === schema.getSubscriptionType()?.name) {
    const auth = subscriptionScope(field.name) ?? 'denied';
    return { field: auth, children: auth };
  }
  // A gateway payload type: plain values come with the event; entities are read through the gateway by id.
  const named = getNamedType(field.type);
  const byId = isObjectType(named) ? entityReader(schema, named.name) : null;
  if (byId) {
    const auth = supergraphAuthorization('Query', byId, owners.get('Query')?.get(byId) ?? [], 'public');
    return { field: auth, children: auth };
  }
  return { field: step.parent, children: step.parent };
}

function supergraphAuthorization(type: string, field: string, graphs: readonly SubgraphName[], parent: FieldAuthorization): FieldAuthorization {
  const options = graphs.map((g) => {
    const rule = fieldRule(POLICY[g], type, field);
    return rule === 'inherit' ? parent : rule;
  });
  if (options.length === 0) return 'denied';
  if (options.includes(parent)) return parent;
  return [...new Set(options)].sort()[0] ?? 'denied';
}

/** The Query field that reads one `type` by id (`account(id: ID!): Account`), which the gateway runs for payload entities. */
function entityReader(schema: GraphQLSchema, type: string): string | null {
  const query = schema.getQueryType();
  const field = Object.values(query?.getFields() ?? {}).find(
    (f) => getNamedType(f.type).name === type && !isNonNullType(f.type) && f.args.length === 1 && f.args[0]?.name === 'id',
  );
  return field?.name ?? null;
}
