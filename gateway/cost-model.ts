import { type DirectiveNode, type ValueNode, type DocumentNode, Kind, parse } from 'graphql';

/**
 * The cost annotations of the supergraph: `@cost` and `@listSize` of the IBM GraphQL cost directive specification,
 * as Apollo Federation 2.9+ composes them (`@link(url: "https://specs.apollo.dev/cost/v0.1")` in the supergraph;
 * the subgraphs import them from federation/v2.9). They are read from the supergraph SDL because the API schema the
 * gateway serves no longer carries them.
 */
export interface ListSize {
  assumedSize?: number;
  slicingArguments?: readonly string[];
  sizedFields?: readonly string[];
}

export interface CostModel {
  /** @cost of an object, interface, union, enum or scalar type. */
  typeWeight(type: string): number | undefined;
  /** @cost of a field definition. */
  fieldWeight(type: string, field: string): number | undefined;
  /** @cost of an argument definition. */
  argumentWeight(type: string, field: string, argument: string): number | undefined;
  listSize(type: string, field: string): ListSize | undefined;
}

const intOf = (v: ValueNode | undefined) => (v?.kind === Kind.INT ? Number(v.value) : undefined);
const stringsOf = (v: ValueNode | undefined) =>
  v?.kind === Kind.LIST ? v.values.flatMap((x) => (x.kind === Kind.STRING ? [x.value] : [])) : undefined;
const argOf = (d: DirectiveNode, name: string) => d.arguments?.find((a) => a.name.value === name)?.value;

function weightOf(directives: readonly DirectiveNode[] | undefined): number | undefined {
  const d = directives?.find((x) => x.name.value === 'cost');
  return d ? intOf(argOf(d, 'weight')) : undefined;
}

function listSizeOf(directives: readonly DirectiveNode[] | undefined): ListSize | undefined {
  const d = directives?.find((x) => x.name.value === 'listSize');
  if (!d) return undefined;
  const assumedSize = intOf(argOf(d, 'assumedSize'));
  const slicingArguments = stringsOf(argOf(d, 'slicingArguments'));
  const sizedFields = stringsOf(argOf(d, 'sizedFields'));
  return { ...(assumedSize !== undefined ? { assumedSize } : {}), ...(slicingArguments ? { slicingArguments } : {}), ...(sizedFields ? { sizedFields } : {}) };
}

/** The model of a supergraph SDL (or any SDL using the two directives by these names). */
export function costModel(sdl: string | DocumentNode): CostModel {
  const document = typeof sdl === 'string' ? parse(sdl) : sdl;
  const types = new Map<string, number>();
  const fields = new Map<string, number>();
  const args = new Map<string, number>();
  const lists = new Map<string, ListSize>();
  for (const def of document.definitions) {
    if (!('name' in def) || !def.name || !('directives' in def)) continue;
    const type = def.name.value;
    const w = weightOf(def.directives);
    if (w !== undefined) types.set(type, w);
    if (!('fields' in def) || !def.fields) continue;
    for (const f of def.fields) {
      const key = `${type}.${f.name.value}`;
      const fw = weightOf(f.directives);
      if (fw !== undefined) fields.set(key, fw);
      const ls = listSizeOf(f.directives);
      if (ls) lists.set(key, ls);
      if (!('arguments' in f)) continue;
      for (const a of f.arguments ?? []) {
        const aw = weightOf(a.directives);
        if (aw !== undefined) args.set(`${key}(${a.name.value})`, aw);
      }
    }
  }
  return {
    typeWeight: (t) => types.get(t),
    fieldWeight: (t, f) => fields.get(`${t}.${f}`),
    argumentWeight: (t, f, a) => args.get(`${t}.${f}(${a})`),
    listSize: (t, f) => lists.get(`${t}.${f}`),
  };
}

/** No annotations: every default applies. */
export const EMPTY_COST_MODEL: CostModel = costModel('scalar Unannotated');
