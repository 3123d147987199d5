import { applyMiddleware } from 'graphql-middleware';
import { allow, deny, rule, shield } from 'graphql-shield';
import type { IRules } from 'graphql-shield';
import { type GraphQLSchema, isObjectType } from 'graphql';
import { type SubgraphPolicy, fieldRule } from '../../lib/auth/policy';
import type { Scope } from '../../lib/auth/principal';
import { forbidden } from '../../lib/errors';
import type { RequestBase } from './server';

/** One named rule per scope: shield caches results per request context by rule name. */
function scopeRule(scope: Scope) {
  return rule(`scope:${scope}`, { cache: 'contextual' })((_parent, _args, ctx: RequestBase) =>
    ctx.principal.scopes.has(scope) ? true : forbidden(`Requires scope ${scope}`),
  );
}

/**
 * Wraps every field of the subgraph schema in a graphql-shield rule generated from the policy table. Deny by default:
 * a field the table does not cover is refused. Denials are FORBIDDEN errors on the field's path (partial results),
 * never INTERNAL_SERVER_ERROR, and say nothing about whether a record exists.
 */
export function authorize(schema: GraphQLSchema, policy: SubgraphPolicy): GraphQLSchema {
  const rules: Record<string, Record<string, ReturnType<typeof scopeRule> | typeof allow>> = {};
  const byScope = new Map<string, ReturnType<typeof scopeRule>>();
  const ruleFor = (scope: Scope | 'public') => {
    if (scope === 'public') return allow;
    const existing = byScope.get(scope) ?? scopeRule(scope);
    byScope.set(scope, existing);
    return existing;
  };
  const set = (type: string, field: string, r: ReturnType<typeof scopeRule> | typeof allow) => {
    rules[type] = { ...rules[type], [field]: r };
  };
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    for (const field of Object.keys(type.getFields())) {
      const needs = fieldRule(policy, type.name, field);
      set(type.name, field, needs === 'inherit' ? allow : ruleFor(needs));
    }
  }
  const permissions = shield(rules as IRules, {
    fallbackRule: deny,
    fallbackError: () => forbidden(),
    allowExternalErrors: true,
  });
  return applyMiddleware(schema, permissions);
}
