import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildSchema } from 'graphql';
import { authorizationBoundaries, fieldOwners } from '../lib/auth/field-authorization';
import { SCOPE_DOC_PATH, currentScopeDocument } from '../lib/auth/scope-doc';
import { API_SCHEMA_PATH, readSupergraph } from '../lib/schema';
import { postGraphQL } from './support/http';
import { type TestStack, startTestStack } from './support/stack';

const apiSdl = () => readFileSync(API_SCHEMA_PATH, 'utf8');
const boundaries = (sdl: string) => authorizationBoundaries(buildSchema(sdl), fieldOwners(readSupergraph()));
const violations = (sdl: string) => boundaries(sdl).filter((b) => b.nonNull && !b.exempt).map((b) => `${b.coordinate} (${b.parent} -> ${b.field}, e.g. ${b.path})`);

/** The first ```graphql block under the README's "Example: account 360" heading: the query the README promises. */
function readmeAccount360(): string {
  const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Example: account 360'));
  const match = /```graphql\n([\s\S]*?)```/.exec(section);
  if (!match?.[1]) throw new Error('README has no account 360 query');
  return match[1];
}

describe('partner-friendly answers: the policy table and the schema agree', () => {
  it('makes every field whose authorization differs from its parent field nullable', () => {
    expect(violations(apiSdl())).toEqual([]);
  });

  it('finds the boundaries it should (so an empty list above means something)', () => {
    const found = new Set(boundaries(apiSdl()).map((b) => `${b.coordinate}|${b.parent}|${b.field}`));
    for (const expected of [
      'Account.balance|crm:read|finance:read', // account 360 as a CRM partner
      'Account.subscriptions|crm:read|billing:read',
      'Account.syncStatus|crm:read|sync:read',
      'Account.name|finance:read|crm:read', // invoices { account { name } } as a finance partner
      'Account.name|billing:read|crm:read',
      'Invoice.subscription|finance:read|billing:read',
      'SyncStatusChange.account|sync:read|crm:read', // a subscription payload read through the gateway
    ]) expect(found).toContain(expected);
    // A key field resolvable in the parent's subgraph is not a boundary.
    expect([...found].some((f) => f.startsWith('Account.id|'))).toBe(false);
  });

  it('fails when such a field is made non-null', () => {
    const broken = apiSdl().replace(/^(\s+)name: String\n(\s+opportunities)/m, '$1name: String!\n$2');
    expect(broken).not.toEqual(apiSdl());
    expect(violations(broken)).toEqual(expect.arrayContaining([expect.stringMatching(/^Account\.name \((billing|finance):read -> crm:read/)]));
    const balance = apiSdl().replace(/^(\s+)balance: Money\n/m, '$1balance: Money!\n');
    expect(violations(balance)).toEqual(expect.arrayContaining([expect.stringMatching(/^Account\.balance \(crm:read -> finance:read/)]));
  });

  it('keeps docs/scopes.md generated from the policy table (npm run scopes)', () => {
    expect(readFileSync(SCOPE_DOC_PATH, 'utf8')).toBe(currentScopeDocument());
  });
});

interface Account360 {
  accounts: { nodes: Record<string, unknown>[] };
}

describe('partner-friendly answers over HTTP', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ accounts: 20 });
  });
  afterAll(() => stack.stop());

  it("answers the README's account 360 to a crm:read partner with the CRM data and FORBIDDEN only where other scopes are needed", async () => {
    const token = await stack.token({ kind: 'partner', sub: 'crm-only-partner', scopes: ['crm:read'] });
    const res = await postGraphQL<Account360>(stack.url, readmeAccount360(), { token });
    expect(res.status).toBe(200);
    const [account] = res.body.data?.accounts.nodes ?? [];
    expect(account).toBeDefined();
    expect(typeof account?.['name']).toBe('string');
    expect(typeof account?.['lifecycleStage']).toBe('string');
    expect(account?.['externalIds']).toEqual(expect.arrayContaining([expect.objectContaining({ system: 'CRM' })]));
    expect((account?.['contacts'] as { nodes: unknown[] }).nodes.length).toBeGreaterThan(0);
    expect(Array.isArray((account?.['opportunities'] as { nodes: unknown }).nodes)).toBe(true);
    const denied = ['creditLimit', 'creditStatus', 'balance', 'invoices', 'subscriptions', 'syncStatus'];
    for (const field of denied) expect(account?.[field]).toBeNull();
    const errors = (res.body.errors ?? []).map((e) => [e.extensions?.['code'], e.path?.join('.'), e.message]);
    expect(errors.map(([, path]) => path).sort()).toEqual(denied.map((f) => `accounts.nodes.0.${f}`).sort());
    expect(errors.every(([code]) => code === 'FORBIDDEN')).toBe(true);
    expect(errors.map(([, path, message]) => `${String(path).split('.').pop()}: ${String(message)}`).sort()).toEqual([
      'balance: Requires scope finance:read', 'creditLimit: Requires scope finance:read', 'creditStatus: Requires scope finance:read',
      'invoices: Requires scope finance:read', 'subscriptions: Requires scope billing:read', 'syncStatus: Requires scope sync:read',
    ]);
  });

  it('gives a finance:read partner its invoices with the CRM account fields null, not the whole list wiped', async () => {
    const token = await stack.token({ kind: 'partner', sub: 'finance-only-partner', scopes: ['finance:read'] });
    const res = await postGraphQL<{ invoices: { nodes: { number: string; account: { id: string; name: string | null; balance: unknown } }[] } }>(
      stack.url, '{ invoices(first: 3) { nodes { number account { id name balance { amountMinor } } } } }', { token },
    );
    expect(res.status).toBe(200);
    const nodes = res.body.data?.invoices.nodes ?? [];
    expect(nodes).toHaveLength(3);
    expect(nodes.every((n) => typeof n.number === 'string' && typeof n.account.id === 'string' && n.account.name === null && n.account.balance !== undefined)).toBe(true);
    expect(res.body.errors?.map((e) => [e.extensions?.['code'], e.path?.join('.')])).toEqual(nodes.map((_, i) => ['FORBIDDEN', `invoices.nodes.${i}.account.name`]));
  });
});
