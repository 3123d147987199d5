import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { postGraphQL } from './support/http';
import { ALL_SCOPES, type TestStack, startTestStack } from './support/stack';

const DOCS = join(__dirname, '..', 'docs');

interface Example {
  doc: string;
  line: number;
  as: string;
  expect: string;
  query: string;
}

/** Every fenced block whose info string is `graphql runnable as=<who> [expect=<code>]`. */
function examples(doc: string): Example[] {
  const text = readFileSync(join(DOCS, doc), 'utf8');
  const found: Example[] = [];
  for (const match of text.matchAll(/^```graphql runnable([^\n]*)\n([\s\S]*?)^```/gm)) {
    const attrs = Object.fromEntries([...(match[1] ?? '').matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1], m[2]]));
    found.push({
      doc, line: text.slice(0, match.index).split('\n').length, as: attrs['as'] ?? '', expect: attrs['expect'] ?? 'ok', query: match[2] ?? '',
    });
  }
  return found;
}

const ALL = ['portal-developers.md', 'partners.md', 'internal-tools.md'].flatMap(examples);

describe("the docs' examples run against the stack", () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ accounts: 6 });
  });
  afterAll(() => stack.stop());

  it('finds runnable examples for every audience', () => {
    const perDoc = new Map<string, number>();
    for (const e of ALL) perDoc.set(e.doc, (perDoc.get(e.doc) ?? 0) + 1);
    expect([...perDoc.keys()].sort()).toEqual(['internal-tools.md', 'partners.md', 'portal-developers.md']);
    expect([...perDoc.values()].every((n) => n >= 2)).toBe(true);
  });

  const tokenFor = (who: string) => {
    switch (who) {
      case 'portal': return stack.token({ sub: 'docs-portal-user', scopes: ALL_SCOPES.filter((s) => s.endsWith(':read')) });
      case 'partner': return stack.token({ kind: 'partner', sub: 'docs-partner', scopes: ['crm:read'] });
      case 'internal': return stack.token({ sub: 'docs-ops', scopes: [...ALL_SCOPES, 'admin'] });
      default: throw new Error(`unknown audience "${who}"`);
    }
  };

  it.each(ALL.map((e) => [`${e.doc}:${e.line}`, e] as const))('%s', async (_where, example) => {
    const res = await postGraphQL(stack.url, example.query, { token: await tokenFor(example.as) });
    expect(res.status).toBe(200);
    expect(res.body.data).toBeTruthy();
    if (example.expect === 'ok') {
      expect(res.body.errors).toBeUndefined();
    } else {
      const errors = res.body.errors ?? [];
      expect(errors.length).toBeGreaterThan(0);
      expect(errors.every((e) => e.extensions?.['code'] === example.expect)).toBe(true);
    }
  });
});
