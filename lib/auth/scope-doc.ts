import { join } from 'node:path';
import { Kind, parse } from 'graphql';
import { SUBGRAPH_NAMES, type SubgraphName, readSubscriptionSdl, readSupergraph } from '../schema';
import { type FieldOwners, fieldOwners } from './field-authorization';
import { POLICY, STATUS_EVENT_SYSTEMS, fieldRule, subscriptionScope } from './policy';
import { SCOPES } from './principal';

const HEADER = `# Scopes and the fields they open

Generated from the policy table (\`lib/auth/policy.ts\`) and the composed supergraph by \`npm run scopes\`; a test
(\`test/partner-answers.test.ts\`) fails when this file is stale. Do not edit by hand.

A token's \`scope\` claim lists what it may do. Each field below needs the scope it is listed under; a field the token
may not read is \`null\` with a \`FORBIDDEN\` error at its path, and the rest of the answer stays (every field whose scope
differs from its parent field's is nullable in the schema). Root fields have no parent field: a refused list or
mutation root field (non-null) makes \`data\` null and the answer 403, so send only the root fields your scopes open,
or one operation per system. Fields of value types (money, connections, edges, lines...) need nothing more than the
field that returned them. Anything not listed is denied.
`;

/** Markdown: for each scope, the fields of the client API it opens, by type. */
export function scopeDocument(owners: FieldOwners, subscriptionFields: readonly string[]): string {
  const byScope = new Map<string, Map<string, Set<string>>>();
  const valueTypes = new Map<string, Set<SubgraphName>>();
  const add = (scope: string, type: string, field: string) => {
    const types = byScope.get(scope) ?? new Map<string, Set<string>>();
    const fields = types.get(type) ?? new Set<string>();
    fields.add(field);
    types.set(type, fields);
    byScope.set(scope, types);
  };
  for (const [type, fields] of owners) {
    if (type.startsWith('join__') || type.startsWith('link__') || type === '_Service') continue;
    for (const [field, graphs] of fields) {
      for (const graph of graphs) {
        const rule = fieldRule(POLICY[graph], type, field);
        if (rule === 'inherit') valueTypes.set(type, (valueTypes.get(type) ?? new Set()).add(graph));
        else if (!field.startsWith('_')) add(rule, type, field);
      }
    }
  }
  for (const field of subscriptionFields) {
    const scope = subscriptionScope(field);
    if (scope) add(scope, 'Subscription', field);
  }
  const section = (title: string, types: Map<string, Set<string>> | undefined): string => {
    const rows = [...(types ?? new Map<string, Set<string>>()).entries()]
      .sort(([a], [b]) => rootFirst(a) - rootFirst(b) || a.localeCompare(b))
      .map(([type, fields]) => `| ${type} | ${[...fields].sort().map((f) => `\`${f}\``).join(', ')} |`);
    return `## ${title}\n\n${rows.length ? `| type | fields |\n|---|---|\n${rows.join('\n')}` : 'Nothing.'}\n`;
  };
  const statusKinds = Object.entries(STATUS_EVENT_SYSTEMS).map(([kind, system]) => `\`${kind}\` needs \`${POLICY[system].read}\``).join(', ');
  const parts = [
    HEADER,
    ...SCOPES.map((scope) => section(`\`${scope}\``, byScope.get(scope))),
    section('Any caller of the tenant (no scope)', byScope.get('public')),
    `\`Query.statusEvents\` then checks each kind it is asked for: ${statusKinds}.\n`,
    `## Value types (inherit their parent field's decision)\n\n${[...valueTypes.keys()].sort().map((t) => `\`${t}\``).join(', ')}\n`,
    `## Subgraphs and their default scopes\n\n| subgraph | reads | writes |\n|---|---|---|\n${SUBGRAPH_NAMES.map((n) => `| ${n} | \`${POLICY[n].read}\` | \`${POLICY[n].write}\` |`).join('\n')}\n`,
  ];
  return parts.join('\n');
}

const ROOTS = ['Query', 'Mutation', 'Subscription'];
const rootFirst = (type: string): number => (ROOTS.includes(type) ? ROOTS.indexOf(type) : ROOTS.length);

/** Where `npm run scopes` writes the document. */
export const SCOPE_DOC_PATH = join(__dirname, '..', '..', 'docs', 'scopes.md');

/** The document for the checked-in supergraph and subscription SDL. */
export function currentScopeDocument(): string {
  const subscription = parse(readSubscriptionSdl()).definitions.flatMap((d) =>
    d.kind === Kind.OBJECT_TYPE_DEFINITION && d.name.value === 'Subscription' ? (d.fields ?? []).map((f) => f.name.value) : [],
  );
  return scopeDocument(fieldOwners(readSupergraph()), subscription);
}
