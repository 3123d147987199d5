import { parseCli } from '../lib/cli';
import { loadConfig } from '../lib/config';
import { openDatabase } from '../lib/db/open';
import { runMain } from '../lib/process';
import { SUBGRAPH_NAMES, type SubgraphName } from '../lib/schema';

const ROLES = ['gateway', 'subgraph', 'worker', 'migrate'] as const;

/**
 * One entry point for every deployable, so one build (and one container image) runs any role by argument:
 * `serve gateway`, `serve subgraph crm`, `serve worker`, `serve migrate`. Each role's module is loaded only when
 * chosen, so a worker never loads the gateway's code.
 */
async function main(): Promise<void> {
  const { positionals } = parseCli({
    usage: `serve <${ROLES.join('|')}> [${SUBGRAPH_NAMES.join('|')}]`,
    summary:
      'Runs one deployable of the product in this process (configured by the environment, see the README):\n' +
      '  gateway          the federated gateway (GATEWAY_PORT; subgraphs at CRM_URL, ERP_URL, BILLING_URL, SYNC_URL)\n' +
      `  subgraph <name>  one subgraph: ${SUBGRAPH_NAMES.join(', ')} (its *_PORT; needs DATABASE_URL)\n` +
      '  worker           a sync worker (needs DATABASE_URL; run as many as you like)\n' +
      '  migrate          applies pending migrations of every system, then exits (needs DATABASE_URL)',
    options: {},
    positionals: true,
    epilogue: 'npm scripts: npm run gateway | npm run subgraph -- crm | npm run worker | npm run migrate (compiled, after npm run build);\nnpm run dev -- <role> runs the TypeScript sources with tsx.',
  });
  const [role, name, ...rest] = positionals;
  if (rest.length > 0) throw new Error(`Unexpected argument '${rest[0]}'. Run with --help.`);
  switch (role) {
    case 'gateway':
      await import('../gateway/main.js');
      return;
    case 'subgraph': {
      if (!(SUBGRAPH_NAMES as readonly (string | undefined)[]).includes(name)) throw new Error(`serve subgraph needs one of ${SUBGRAPH_NAMES.join(', ')}`);
      const { runSubgraph } = await import('../subgraphs/runtime/main.js');
      await runSubgraph(name as SubgraphName);
      return;
    }
    case 'worker':
      await import('../subgraphs/sync/worker.js');
      return;
    case 'migrate':
      await migrate();
      return;
    default:
      throw new Error(`serve needs a role: ${ROLES.join(', ')}. Run with --help.`);
  }
}

/** The release step (a Kubernetes Job, a compose service that runs once): every system's migrations, then exit. */
async function migrate(): Promise<void> {
  const config = loadConfig();
  if (!config.databaseUrl) throw new Error('DATABASE_URL is required: migrations run against the shared PostgreSQL');
  const db = await openDatabase(config);
  const { migrateAll } = await import('../subgraphs/registry.js');
  try {
    await migrateAll(db);
  } finally {
    await db.close();
  }
  process.stdout.write('migrations applied\n');
}

runMain(main);
