import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, run } from './support/child';
import { type TestStack, startTestStack } from './support/stack';

const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

/** The README's fenced blocks marked ```sh runnable, in order, with the line each starts on. */
function runnableBlocks(markdown: string): { line: number; code: string }[] {
  const blocks: { line: number; code: string }[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!/^```sh runnable\s*$/.test(lines[i] ?? '')) continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && lines[end] !== '```') end++;
    blocks.push({ line: start + 1, code: lines.slice(start, end).join('\n') });
    i = end;
  }
  return blocks;
}

/**
 * The README's shell blocks (```sh, ```bash) that are neither runnable nor explained: each must be ```sh runnable, or
 * follow a `<!-- not run by test/readme.test.ts: <why, and what covers it> -->` line.
 */
function unexplainedShellBlocks(markdown: string): number[] {
  const lines = markdown.split('\n');
  const found: number[] = [];
  let inside = false;
  lines.forEach((line, i) => {
    if (!line.startsWith('```')) return;
    if (inside) {
      inside = false;
      return;
    }
    inside = true;
    const info = line.slice(3).trim();
    if (!/^(sh|bash|shell|console)\b/.test(info) || info === 'sh runnable') return;
    if (!/^<!-- not run by test\/readme\.test\.ts: \S.* -->$/.test(lines[i - 1] ?? '')) found.push(i + 1);
  });
  return found;
}

/** The npm scripts (`npm run <name>`) and repository files (`npx tsx <file>`) the README tells a reader to run. */
function namedCommands(markdown: string): { scripts: string[]; files: string[]; bareTsx: string[] } {
  const scripts = [...markdown.matchAll(/npm run (?:-s )?([a-z][\w:-]*)/g)].map((m) => m[1] ?? '');
  const files = [...markdown.matchAll(/npx tsx ([\w./-]+\.ts)/g)].map((m) => m[1] ?? '');
  // `tsx file.ts` without npx fails with "tsx: command not found" outside npm scripts.
  const bareTsx = [...markdown.matchAll(/(^|[`\s(])tsx [\w./-]+\.ts/g)].filter((m) => !markdown.slice(Math.max(0, (m.index ?? 0) - 4), m.index).includes('npx')).map((m) => m[0].trim());
  return { scripts: [...new Set(scripts)], files: [...new Set(files)], bareTsx };
}

/** Every `--tenant X ... --sub Y-partner` in the README names the partner after its own tenant. */
function partnerTokens(markdown: string): { tenant: string; sub: string }[] {
  return [...markdown.matchAll(/npm run -s token -- ([^`\n)]*)/g)].flatMap((m) => {
    const args = m[1] ?? '';
    const sub = /--sub (\S+)/.exec(args)?.[1];
    if (!sub || !/--kind partner/.test(args)) return [];
    return [{ tenant: /--tenant (\S+)/.exec(args)?.[1] ?? 'acme', sub }];
  });
}

describe('README examples', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ accounts: 3 });
  }, 120_000);
  afterAll(() => stack?.stop());

  it('has runnable shell blocks, and its partner examples name partners of their own tenant', () => {
    expect(runnableBlocks(README).length).toBeGreaterThanOrEqual(4);
    const partners = partnerTokens(README);
    expect(partners.length).toBeGreaterThan(0);
    for (const p of partners) expect(p).toEqual({ tenant: p.tenant, sub: `${p.tenant}-partner` });
  });

  it('runs or explains every shell block, and names only npm scripts and files that exist (no bare tsx)', () => {
    expect({ unexplainedShellBlocksAtLines: unexplainedShellBlocks(README) }).toEqual({ unexplainedShellBlocksAtLines: [] });
    const { scripts, files, bareTsx } = namedCommands(README);
    const known = Object.keys((JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts);
    expect(scripts.length).toBeGreaterThan(10);
    expect(scripts.filter((name) => !known.includes(name))).toEqual([]);
    expect(files.length).toBeGreaterThan(0);
    expect(files.filter((f) => !existsSync(join(ROOT, f)))).toEqual([]);
    expect(bareTsx).toEqual([]);
  });

  it('runs every ```sh runnable block as written against a started stack (its ports for 4000): exit 0, no GraphQL error', async () => {
    const origin = stack.url.replace(/\/graphql$/, '');
    // What a newcomer's shell has: no test database, the development JWT secret the stack also uses.
    const env: NodeJS.ProcessEnv = { PATH: process.env['PATH'], HOME: process.env['HOME'], TMPDIR: process.env['TMPDIR'] };
    for (const block of runnableBlocks(README)) {
      const code = block.code.replaceAll('http://127.0.0.1:4000', origin).replaceAll('ws://127.0.0.1:4000', origin.replace(/^http/, 'ws'));
      const result = await run('bash', ['-euo', 'pipefail', '-c', code], { env, cwd: ROOT });
      const where = `README.md line ${block.line}`;
      expect({ where, code: result.code, stderr: result.code === 0 ? '' : result.stderr }).toEqual({ where, code: 0, stderr: '' });
      expect({ where, errors: result.stdout.includes('"errors"') ? result.stdout : null }).toEqual({ where, errors: null });
      if (code.includes('/graphql')) expect({ where, data: /"data":\{/.test(result.stdout) }).toEqual({ where, data: true });
    }
  }, 600_000);

  it('the write example created its account in tenant acme (the block did more than parse)', async () => {
    const rows = await stack.db.query<{ id: string }>("SELECT id FROM crm.accounts WHERE tenant_id = 'acme' AND name = 'Readme Ltd'");
    expect(rows).toHaveLength(1);
  });
});
