import { traced, tracingEnabled } from './tracing';

type Resolver = (...args: unknown[]) => unknown;
type ResolverMap = Record<string, Record<string, unknown>>;

const ROOTS = new Set(['Query', 'Mutation']);

/**
 * A span around each resolver that reaches a store: root query and mutation fields and entity references
 * (`__resolveReference`, what `_entities` runs). Field resolvers below them read loaders already filled by these,
 * so spanning them would only add noise. Returns the map unchanged when tracing is off.
 */
export function tracedResolvers<T extends object>(subgraph: string, resolvers: T): T {
  if (!tracingEnabled()) return resolvers;
  const map = resolvers as unknown as ResolverMap;
  const out: ResolverMap = {};
  for (const [type, fields] of Object.entries(map)) {
    // Scalars and enums are kept as they are (copying a GraphQLScalarType would lose its prototype).
    if (!ROOTS.has(type) && typeof fields['__resolveReference'] !== 'function') {
      out[type] = fields;
      continue;
    }
    const wrapped: Record<string, unknown> = { ...fields };
    for (const [field, value] of Object.entries(fields)) {
      if (typeof value !== 'function' || !(ROOTS.has(type) || field === '__resolveReference')) continue;
      const resolve = value as Resolver;
      wrapped[field] = (...args: unknown[]) =>
        traced(`resolve ${type}.${field}`, { 'sor.subgraph': subgraph, 'graphql.field.path': `${type}.${field}` }, async () => resolve(...args));
    }
    out[type] = wrapped;
  }
  return out as unknown as T;
}
