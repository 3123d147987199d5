import { writeFileSync } from 'node:fs';
import { parseCli } from '../lib/cli';
import { composeSupergraph } from '../lib/compose';
import { SUPERGRAPH_PATH } from '../lib/schema';
import { runMain } from '../lib/process';

/** `npm run compose`: composes schema/<subgraph>.graphql into schema/supergraph.graphql (fails on composition errors). */
async function main(): Promise<void> {
  parseCli({
    usage: 'npm run compose',
    summary: `Composes the subgraph SDL files in schema/ into ${SUPERGRAPH_PATH} with @apollo/composition.\nFails with the composition errors when the subgraphs do not compose. Takes no options.`,
    options: {},
  });
  writeFileSync(SUPERGRAPH_PATH, composeSupergraph());
  process.stdout.write(`wrote ${SUPERGRAPH_PATH}\n`);
}

runMain(main);
