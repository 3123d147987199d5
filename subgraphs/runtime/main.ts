import { loadConfig } from '../../lib/config';
import { migrate } from '../../lib/db/migrate';
import { countStatements } from '../../lib/db/db';
import { openDatabase } from '../../lib/db/open';
import { createLogger } from '../../lib/logger';
import type { SubgraphName } from '../../lib/schema';
import { SUBGRAPHS } from '../registry';
import { startSubgraph } from './server';

/** Entry point of one subgraph as its own deployable: `tsx subgraphs/crm/main.ts`. */
export async function runSubgraph(name: SubgraphName): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel, name);
  if (!config.databaseUrl) logger.warn('DATABASE_URL is not set: this subgraph runs on its own in-memory PGlite');
  const db = await openDatabase(config);
  await migrate(db, name, SUBGRAPHS[name].migrations);
  const server = await startSubgraph(SUBGRAPHS[name].definition, {
    db: countStatements(db, { count: 0 }),
    host: config.host,
    port: config.ports[name],
    internalSecret: config.internalSecret,
    production: config.production,
    logger,
  });
  logger.info({ url: server.url }, 'subgraph ready');
  const stop = async () => {
    await server.close();
    await db.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
}
