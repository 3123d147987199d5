import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import ts from 'typescript';

/**
 * "Ports are the only door" checked on the source: SQL in a subgraph's code may name only its own schema
 * (`crm.*` in subgraphs/crm, `sync.*` in subgraphs/sync, ...); code outside the four systems (the registry, the shared
 * runtime) names none. Every other system is reached through its connector port or the ledger's port. Strings are
 * read with the TypeScript parser, so property paths such as `sys.billing.cancelSubscription` are not SQL.
 */
const ROOT = join(__dirname, '..', 'subgraphs');
const SCHEMAS = ['crm', 'erp', 'billing', 'sync'] as const;
const TABLE_REF = /(?<![\w.$])(crm|erp|billing|sync)\.([a-z_][a-z0-9_]*)\b/g;

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'generated' ? [] : tsFiles(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

/** Every string and template text in a source file (what SQL is written in). */
export function stringTexts(source: string): string[] {
  const file = ts.createSourceFile('x.ts', source, ts.ScriptTarget.Latest, true);
  const out: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node) || ts.isTemplateHead(node) || ts.isTemplateMiddle(node) || ts.isTemplateTail(node)) {
      out.push(node.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return out;
}

export function schemaRefs(source: string): { schema: string; table: string }[] {
  return stringTexts(source).flatMap((text) => [...text.matchAll(TABLE_REF)].map((m) => ({ schema: m[1] ?? '', table: m[2] ?? '' })));
}

function ownerOf(path: string): string | null {
  const first = relative(ROOT, path).split(sep)[0] ?? '';
  return (SCHEMAS as readonly string[]).includes(first) ? first : null;
}

describe('ports are the only door (static check over subgraphs/)', () => {
  it('the scanner finds SQL table references in strings and ignores property paths', () => {
    const refs = schemaRefs("const a = `SELECT 1 FROM erp.invoices i JOIN billing.invoice_links l ON true`; sys.billing.cancel(); sys.crm.accounts; const b = 'crm.external_ids';");
    expect(refs).toEqual([{ schema: 'erp', table: 'invoices' }, { schema: 'billing', table: 'invoice_links' }, { schema: 'crm', table: 'external_ids' }]);
  });

  it("no code touches another system's schema directly", () => {
    const files = tsFiles(ROOT);
    const violations: string[] = [];
    const ownRefs = new Map<string, number>();
    for (const file of files) {
      const owner = ownerOf(file);
      for (const ref of schemaRefs(readFileSync(file, 'utf8'))) {
        if (ref.schema === owner) ownRefs.set(ref.schema, (ownRefs.get(ref.schema) ?? 0) + 1);
        else violations.push(`${relative(ROOT, file)}: ${ref.schema}.${ref.table}`);
      }
    }
    expect(violations).toEqual([]);
    // The check ran over real SQL: every system's own code names its own tables many times.
    for (const schema of SCHEMAS) expect(ownRefs.get(schema) ?? 0).toBeGreaterThan(5);
  });
});
