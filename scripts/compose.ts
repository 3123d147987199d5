import { writeFileSync } from 'node:fs';
import { composeSupergraph } from '../lib/compose';
import { SUPERGRAPH_PATH } from '../lib/schema';

writeFileSync(SUPERGRAPH_PATH, composeSupergraph());
process.stdout.write(`wrote ${SUPERGRAPH_PATH}\n`);
