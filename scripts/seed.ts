import { parseArgs } from 'node:util';
import { loadConfig } from '../lib/config';
import { openDatabase } from '../lib/db/open';
import { migrateAll } from '../subgraphs/registry';
import { seedIfEmpty } from './stack';
import { runMain } from '../lib/process';

/** `npm run seed -- --accounts 10000 --tenants acme,globex`: deterministic demo data in every system of record. */
async function main(): Promise<void> {
  const { values } = parseArgs({ options: { accounts: { type: 'string', default: '50' }, tenants: { type: 'string', default: 'acme,globex' } } });
  const accounts = Number(values.accounts);
  if (!Number.isInteger(accounts) || accounts < 0) throw new Error('--accounts must be a non-negative integer');
  const config = loadConfig();
  if (!config.databaseUrl && !config.pgliteDataDir) throw new Error('Set DATABASE_URL or PGLITE_DATA_DIR: seeding an in-memory database would be lost at exit');
  const db = await openDatabase(config);
  const started = Date.now();
  await migrateAll(db);
  const tenants = values.tenants.split(',').filter(Boolean);
  await seedIfEmpty(db, tenants, accounts);
  await db.close();
  process.stdout.write(`seeded ${tenants.join(', ')} with ${accounts} accounts each in ${Date.now() - started} ms\n`);
}

runMain(main);
