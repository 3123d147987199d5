import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { tenantId } from '../lib/auth/principal';
import { parseCli } from '../lib/cli';
import { loadConfig } from '../lib/config';
import { openDatabase } from '../lib/db/open';
import { manifestOperations } from '../lib/persisted-operations/manifest';
import { partnerOperationList, registerPartnerOperations } from '../lib/persisted-operations/store';
import { runMain } from '../lib/process';
import { migrateAll } from '../subgraphs/registry';
import { partnerName } from '../subgraphs/sync/partners/resolvers';

/** `npm run partner-operations -- --tenant acme --partner acme-partner --manifest persisted-query-manifest.json` */
async function main(): Promise<void> {
  const { values } = parseCli({
    usage: 'npm run partner-operations -- --tenant <id> --partner <sub> [--manifest <file>]',
    summary: 'Registers a partner application\'s operations from an Apollo persisted-query manifest (the JSON\n@apollo/generate-persisted-query-manifest writes), replacing its list in that tenant, and records it in the audit\nlog; without --manifest, prints the partner\'s current list. Uses DATABASE_URL (the embedded database otherwise).',
    options: {
      tenant: { type: 'string', description: 'tenant the partner belongs to', placeholder: 'id' },
      partner: { type: 'string', description: 'the `sub` of the partner\'s tokens', placeholder: 'sub' },
      manifest: { type: 'string', description: 'path of persisted-query-manifest.json', placeholder: 'file' },
    },
    epilogue: 'Example:\n  npx generate-persisted-query-manifest   # in the partner app: writes persisted-query-manifest.json\n  npm run partner-operations -- --tenant acme --partner acme-partner --manifest persisted-query-manifest.json',
  });
  const tenant = tenantId.parse(values.tenant);
  const partner = partnerName.parse(values.partner);
  const db = await openDatabase(loadConfig());
  try {
    await migrateAll(db);
    if (!values.manifest) {
      const list = await partnerOperationList(db, tenant, partner);
      process.stdout.write(list ? `${JSON.stringify({ ...list, operations: list.operations.map(({ id, name, type }) => ({ id, name, type })) }, null, 2)}\n` : `${partner} has no registered operations in ${tenant}\n`);
      return;
    }
    const operations = manifestOperations(JSON.parse(readFileSync(values.manifest, 'utf8')));
    const list = await registerPartnerOperations(db, tenant, partner, operations, 'cli', { source: 'npm run partner-operations', correlationId: randomUUID() });
    process.stdout.write(`registered ${list.operations.length} operations for ${partner} in ${tenant} (in force on every gateway within 5 s)\n`);
  } finally {
    await db.close();
  }
}

runMain(main);
