import { writeFileSync } from 'node:fs';
import { printClientSchema } from '../gateway/api-schema';
import { parseCli } from '../lib/cli';
import { composeSupergraph } from '../lib/compose';
import { API_SCHEMA_PATH, SUPERGRAPH_PATH } from '../lib/schema';
import { runMain } from '../lib/process';

/** `npm run compose`: composes schema/<subgraph>.graphql into the supergraph and prints the client API schema. */
async function main(): Promise<void> {
  parseCli({
    usage: 'npm run compose',
    summary: `Composes the subgraph SDL files in schema/ into ${SUPERGRAPH_PATH} with @apollo/composition and writes the\nclient API schema to ${API_SCHEMA_PATH}. Fails with the composition errors when the subgraphs do not compose.\nTakes no options.`,
    options: {},
  });
  writeFileSync(SUPERGRAPH_PATH, composeSupergraph());
  process.stdout.write(`wrote ${SUPERGRAPH_PATH}\n`);
  writeFileSync(API_SCHEMA_PATH, `${printClientSchema()}\n`);
  process.stdout.write(`wrote ${API_SCHEMA_PATH}\n`);
}

runMain(main);
