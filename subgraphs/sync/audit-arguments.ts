import { Kind, parse } from 'graphql';
import { POLICY, rootFieldScope } from '../../lib/auth/policy';
import type { Scope } from '../../lib/auth/principal';
import { SUBGRAPH_NAMES, subgraphSdl } from '../../lib/schema';
import { REDACTED } from '../../lib/scoped-message';

/**
 * The audit log shows each mutation's arguments to tenant admins, who need not hold the scopes of the data those
 * arguments carry (a credit limit is ERP data: `finance:read`). An entry's argument values are shown only to a reader
 * holding, for every root field the mutation ran, the read scope matching the scope that field needs (the one policy
 * table, lib/auth/policy.ts: `finance:write` -> `finance:read`, `admin` stays `admin`); otherwise each value is
 * `[redacted]` and only the argument names remain. The union over the entry's fields, not a scope per field: the
 * stored arguments are keyed by response name, so an alias could pass one field's arguments off as another's.
 */

/** The read scope of the system whose write scope is `write` (`crm:write` -> `crm:read`); `admin` and `public` as they are. */
export function readScopeOf(write: Scope | 'public'): Scope | 'public' {
  if (write === 'public' || write === 'admin') return write;
  const system = SUBGRAPH_NAMES.find((g) => POLICY[g].write === write);
  // A write scope no system owns: only a reader holding that scope itself sees what it wrote.
  return system ? POLICY[system].read : write;
}

let readScopes: ReadonlyMap<string, Scope | 'public'> | undefined;

/** What a reader needs to see the arguments of each mutation root field of every subgraph (read once from the SDL). */
export function mutationArgumentScopes(): ReadonlyMap<string, Scope | 'public'> {
  if (readScopes) return readScopes;
  const scopes = new Map<string, Scope | 'public'>();
  for (const graph of SUBGRAPH_NAMES) {
    for (const def of parse(subgraphSdl(graph)).definitions) {
      if ((def.kind !== Kind.OBJECT_TYPE_DEFINITION && def.kind !== Kind.OBJECT_TYPE_EXTENSION) || def.name.value !== 'Mutation') continue;
      for (const field of def.fields ?? []) scopes.set(field.name.value, readScopeOf(rootFieldScope(graph, 'Mutation', field.name.value)));
    }
  }
  readScopes = scopes;
  return scopes;
}

/** Every system's read scope: what a field the schema does not know (a refused typo) may have carried. */
const EVERY_READ_SCOPE: readonly Scope[] = SUBGRAPH_NAMES.map((g) => POLICY[g].read);

/** The scopes a reader needs to see the argument values of an entry that ran `fields`. */
export function scopesToSeeArguments(fields: readonly string[], scopes: ReadonlyMap<string, Scope | 'public'> = mutationArgumentScopes()): Set<Scope> {
  const needed = new Set<Scope>();
  for (const field of fields) {
    const scope = scopes.get(field);
    if (scope === undefined) EVERY_READ_SCOPE.forEach((s) => needed.add(s));
    else if (scope !== 'public') needed.add(scope);
  }
  return needed;
}

/**
 * The stored arguments (`{ <response name>: { <argument>: value } }`) as `reader` may see them: unchanged, or with
 * every argument value replaced by `[redacted]` when the reader lacks a scope the entry's fields need.
 */
export function auditArgumentsFor(stored: unknown, fields: readonly string[], reader: ReadonlySet<string>): unknown {
  const missing = [...scopesToSeeArguments(fields)].filter((s) => !reader.has(s));
  if (missing.length === 0) return stored;
  if (typeof stored !== 'object' || stored === null || Array.isArray(stored)) return REDACTED;
  return Object.fromEntries(
    Object.entries(stored).map(([responseName, args]) => [
      responseName,
      typeof args === 'object' && args !== null && !Array.isArray(args) ? Object.fromEntries(Object.keys(args).map((name) => [name, REDACTED])) : REDACTED,
    ]),
  );
}
