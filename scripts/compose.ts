import { writeFileSync } from 'node:fs';
import { printClientSchema } from '../gateway/api-schema';
import { composeSupergraph } from '../lib/compose';
import { API_SCHEMA_PATH, SUPERGRAPH_PATH } from '../lib/schema';

writeFileSync(SUPERGRAPH_PATH, composeSupergraph());
process.stdout.write(`wrote ${SUPERGRAPH_PATH}\n`);
writeFileSync(API_SCHEMA_PATH, `${printClientSchema()}\n`);
process.stdout.write(`wrote ${API_SCHEMA_PATH}\n`);
