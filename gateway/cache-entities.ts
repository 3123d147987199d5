import {
  type DocumentNode, type FieldNode, type FragmentDefinitionNode, type GraphQLObjectType, type GraphQLSchema,
  type OperationDefinitionNode, type SelectionSetNode, Kind, getNamedType, isAbstractType, isObjectType,
} from 'graphql';
import {
  DERIVED_FIELD_SET, WHOLE_TENANT, type WrittenEntity, entityTag, fieldTag, idlessTag, listTag, typeTag,
} from '../lib/cache-tags';

/** What an answer holds, found by walking its data along the operation's selections and the schema's types. */
export interface AnswerContents {
  /** `Type:id` pairs (the id was selected). */
  entities: Map<string, { type: string; id: string }>;
  /** Entity types held at all. */
  types: Set<string>;
  /** Entity types held without their id. */
  idless: Set<string>;
  /** Entity types held in lists, or looked up and not found: a creation of the type evicts the answer. */
  lists: Set<string>;
  /** `Type.field` selections listed in DERIVED_FIELDS. */
  derived: Set<string>;
}

type Fragments = ReadonlyMap<string, FragmentDefinitionNode>;

/** An entity is an object type with an `id` field: the canonical id the writers name (lib/cache-tags.ts). */
const isEntity = (t: GraphQLObjectType) => 'id' in t.getFields();

/** The entity types a field of type `named` can hold (its possible types when abstract). */
function entityTypes(schema: GraphQLSchema, named: ReturnType<typeof getNamedType>): string[] {
  if (isObjectType(named)) return isEntity(named) ? [named.name] : [];
  if (named && isAbstractType(named)) return schema.getPossibleTypes(named).filter(isEntity).map((t) => t.name);
  return [];
}

/** The fields selected on `type` by response key, fragments flattened (graphql-js's collectFields, minus directives). */
function collect(schema: GraphQLSchema, type: GraphQLObjectType, set: SelectionSetNode, fragments: Fragments, into = new Map<string, FieldNode[]>()) {
  for (const s of set.selections) {
    if (s.kind === Kind.FIELD) {
      const key = s.alias?.value ?? s.name.value;
      into.set(key, [...(into.get(key) ?? []), s]);
      continue;
    }
    const fragment = s.kind === Kind.INLINE_FRAGMENT ? s : fragments.get(s.name.value);
    if (!fragment) continue;
    const condition = fragment.typeCondition ? schema.getType(fragment.typeCondition.name.value) : type;
    const applies = condition === type || (condition !== undefined && condition !== null && isAbstractType(condition) && schema.isSubType(condition, type));
    if (applies) collect(schema, type, fragment.selectionSet, fragments, into);
  }
  return into;
}

function walkObject(schema: GraphQLSchema, type: GraphQLObjectType, sets: readonly SelectionSetNode[], value: Record<string, unknown>, fragments: Fragments, out: AnswerContents) {
  const fields = new Map<string, FieldNode[]>();
  for (const set of sets) collect(schema, type, set, fragments, fields);
  if (isEntity(type)) {
    out.types.add(type.name);
    const idKey = [...fields].find(([, nodes]) => nodes[0]?.name.value === 'id')?.[0];
    const id = idKey === undefined ? undefined : value[idKey];
    if (typeof id === 'string' || typeof id === 'number') out.entities.set(`${type.name}:${id}`, { type: type.name, id: String(id) });
    else out.idless.add(type.name);
  }
  const defs = type.getFields();
  for (const [key, nodes] of fields) {
    const name = nodes[0]?.name.value;
    if (name === undefined || name.startsWith('__')) continue;
    const def = defs[name];
    if (!def) continue;
    if (DERIVED_FIELD_SET.has(`${type.name}.${name}`)) out.derived.add(`${type.name}.${name}`);
    const named = getNamedType(def.type);
    if (!isObjectType(named) && !isAbstractType(named)) continue;
    const sub = nodes.flatMap((n) => (n.selectionSet ? [n.selectionSet] : []));
    walkValue(schema, named, sub, value[key], fragments, out);
  }
}

function walkValue(
  schema: GraphQLSchema, named: GraphQLObjectType | ReturnType<typeof getNamedType>,
  sets: readonly SelectionSetNode[], value: unknown, fragments: Fragments, out: AnswerContents,
) {
  // A missing entity (`invoice(id:)` answering null) or a list of them, even empty, may change when one is created.
  if (value === null || value === undefined || Array.isArray(value)) for (const t of entityTypes(schema, named)) out.lists.add(t);
  if (value === null || value === undefined) return;
  if (Array.isArray(value)) {
    for (const item of value) walkValue(schema, named, sets, item, fragments, out);
    return;
  }
  if (typeof value !== 'object') return;
  const record = value as Record<string, unknown>;
  const typename = record['__typename'];
  const concrete = isObjectType(named) ? named : typeof typename === 'string' ? schema.getType(typename) : undefined;
  // An abstract type without __typename in the answer: its members cannot be told apart; every write of them evicts it.
  if (!concrete || !isObjectType(concrete)) {
    if (named && isAbstractType(named)) for (const t of schema.getPossibleTypes(named)) if (isEntity(t)) { out.types.add(t.name); out.idless.add(t.name); }
    return;
  }
  walkObject(schema, concrete, sets, record, fragments, out);
}

function operationOf(document: DocumentNode, operationName: string | null | undefined): { operation: OperationDefinitionNode | undefined; fragments: Fragments } {
  const fragments = new Map<string, FragmentDefinitionNode>();
  let operation: OperationDefinitionNode | undefined;
  for (const d of document.definitions) {
    if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
    else if (d.kind === Kind.OPERATION_DEFINITION && (!operationName || d.name?.value === operationName)) operation ??= d;
  }
  return { operation, fragments };
}

/** What `data`, the answer to `document`'s operation, holds. */
export function answerContents(schema: GraphQLSchema, document: DocumentNode, operationName: string | null | undefined, data: Record<string, unknown>): AnswerContents {
  const out: AnswerContents = { entities: new Map(), types: new Set(), idless: new Set(), lists: new Set(), derived: new Set() };
  const { operation, fragments } = operationOf(document, operationName);
  const root = operation ? schema.getRootType(operation.operation) : undefined;
  if (operation && root) walkObject(schema, root, [operation.selectionSet], data, fragments, out);
  return out;
}

/** The tags a cached answer is filed under (lib/cache-tags.ts). */
export function answerTags(contents: AnswerContents): string[] {
  return [
    WHOLE_TENANT,
    ...[...contents.entities.values()].map((e) => entityTag(e.type, e.id)),
    ...[...contents.idless].map(idlessTag),
    ...[...contents.types].map(typeTag),
    ...[...contents.lists].map(listTag),
    ...[...contents.derived].map(fieldTag),
  ];
}

/**
 * What a mutation wrote, from its answer: every entity it returns (by id when selected, type-wide otherwise), and,
 * for a root field that takes no `id` argument (createAccount, recordPayment...), a creation of its type. A root
 * field with no answer (an error) may still have written: its type is evicted type-wide.
 */
export function mutationWrites(schema: GraphQLSchema, document: DocumentNode, operationName: string | null | undefined, data: Record<string, unknown> | null | undefined): (WrittenEntity | typeof WHOLE_TENANT)[] {
  const { operation, fragments } = operationOf(document, operationName);
  const root = schema.getMutationType();
  if (!operation || !root) return [WHOLE_TENANT];
  const written: WrittenEntity[] = [];
  const fields = collect(schema, root, operation.selectionSet, fragments);
  for (const [key, nodes] of fields) {
    const def = root.getFields()[nodes[0]?.name.value ?? ''];
    if (!def) continue;
    const named = getNamedType(def.type);
    const creates = !def.args.some((a) => a.name === 'id');
    const types = isObjectType(named) ? [named] : isAbstractType(named) ? schema.getPossibleTypes(named) : [];
    if (creates) for (const t of types) if (isEntity(t)) written.push({ type: t.name, created: true });
    if (!data || data[key] === null || data[key] === undefined) {
      // No answer: whatever it wrote is not known by id.
      for (const t of types) if (isEntity(t)) written.push({ type: t.name });
    }
  }
  if (data) {
    const contents = answerContents(schema, document, operationName, data);
    for (const e of contents.entities.values()) written.push(e);
    for (const t of contents.idless) written.push({ type: t });
  }
  return written;
}
