import { writeFileSync } from 'node:fs';
import { SCOPE_DOC_PATH, currentScopeDocument } from '../lib/auth/scope-doc';
import { parseCli } from '../lib/cli';
import { runMain } from '../lib/process';

/** `npm run scopes`: writes docs/scopes.md (which fields each scope opens) from the policy table and the supergraph. */
async function main(): Promise<void> {
  parseCli({
    usage: 'npm run scopes',
    summary: `Writes ${SCOPE_DOC_PATH}: for each scope, the fields of the client API it opens, generated from the policy\ntable (lib/auth/policy.ts) and schema/supergraph.graphql. Run it after changing either (after \`npm run compose\`).\nTakes no options.`,
    options: {},
  });
  writeFileSync(SCOPE_DOC_PATH, currentScopeDocument());
  process.stdout.write(`wrote ${SCOPE_DOC_PATH}\n`);
}

runMain(main);
