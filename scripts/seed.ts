import pg from 'pg';
import { parseCli } from '../lib/cli';
import { loadConfig } from '../lib/config';
import { openDatabase } from '../lib/db/open';
import { DatabaseMissingError } from '../lib/db/postgres';
import { migrateAll } from '../subgraphs/registry';
import { type SeedOutcome, seedIfEmpty } from './stack';
import { runMain } from '../lib/process';

/** `npm run seed -- --accounts 10000 --tenants acme,globex`: deterministic demo data in every system of record. */
async function main(): Promise<void> {
  const { values } = parseCli({
    usage: 'npm run seed -- [options]',
    summary:
      'Migrates the database of DATABASE_URL (or PGLITE_DATA_DIR) and seeds deterministic demo data into every system of\n' +
      'record for each tenant that has no accounts yet. A tenant that already has accounts is left as it is.',
    options: {
      accounts: { type: 'string', default: '50', description: 'accounts per tenant (with contacts, opportunities, invoices, subscriptions)', placeholder: 'n' },
      tenants: { type: 'string', default: 'acme,globex', description: 'comma-separated tenant ids', placeholder: 'ids' },
      'create-database': { type: 'boolean', description: "create DATABASE_URL's database when the server does not have it" },
    },
    epilogue: 'Example: DATABASE_URL=postgres://postgres@127.0.0.1:5432/sor npm run seed -- --create-database --accounts 2000',
  });
  const accounts = Number(values.accounts);
  if (!Number.isInteger(accounts) || accounts < 0) throw new Error('--accounts must be a non-negative integer');
  const config = loadConfig();
  if (!config.databaseUrl && !config.pgliteDataDir) throw new Error('Set DATABASE_URL or PGLITE_DATA_DIR: seeding an in-memory database would be lost at exit');
  const started = Date.now();
  const db = await openDatabase(config).catch(async (err: unknown) => {
    if (!(err instanceof DatabaseMissingError) || !values['create-database']) throw err;
    await createDatabase(err.url, err.database);
    process.stdout.write(`created database ${err.database}\n`);
    return openDatabase(config);
  });
  await migrateAll(db);
  const tenants = values.tenants.split(',').filter(Boolean);
  const outcomes = await seedIfEmpty(db, tenants, accounts);
  await db.close();
  for (const outcome of outcomes) process.stdout.write(`${describe(outcome, accounts)}\n`);
  process.stdout.write(`done in ${Date.now() - started} ms\n`);
  // Asked for more than a tenant has and got nothing: the command did not do what was asked.
  if (outcomes.some((o) => !o.seeded && o.existing < accounts)) process.exitCode = 1;
}

function describe(outcome: SeedOutcome, requested: number): string {
  if (outcome.seeded) return `${outcome.tenant}: seeded ${outcome.accounts} accounts`;
  const has = `${outcome.tenant}: already seeded with ${outcome.existing} accounts`;
  if (outcome.existing === requested) return `${has}; nothing to do`;
  if (outcome.existing > requested) return `${has} (more than ${requested}); left as it is`;
  return (
    `${has}; refused to top up to ${requested}: seeding writes a tenant's systems only once, as adding accounts to a ` +
    'tenant in use could contradict what it holds. Seed another tenant (--tenants) or a fresh database.'
  );
}

/** CREATE DATABASE through the server's maintenance database (`postgres`), with the same credentials. */
async function createDatabase(url: string, database: string): Promise<void> {
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`);
  } finally {
    await client.end();
  }
}

runMain(main);
