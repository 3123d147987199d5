import { execFileSync } from 'node:child_process';
import { composeSupergraph } from '../lib/compose';
import { readSupergraph } from '../lib/schema';

describe('schema', () => {
  it('composes without errors and the checked-in supergraph is up to date (run `npm run compose`)', () => {
    expect(readSupergraph()).toBe(composeSupergraph());
  });

  it('generated resolver types match the schema (run `npm run codegen`)', () => {
    // `--check` exits non-zero when a generated file would change.
    expect(() => execFileSync('npx', ['graphql-codegen', '--config', 'codegen.ts', '--check'], { cwd: `${__dirname}/..`, stdio: 'pipe' })).not.toThrow();
  });
});
