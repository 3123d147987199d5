import type { Db } from './db';
import { connectPostgres } from './postgres';
import { openPglite } from './pglite';

/** Real Postgres when a URL is given, embedded PGlite otherwise. */
export function openDatabase(opts: { databaseUrl?: string; pgliteDataDir?: string }): Promise<Db> {
  return opts.databaseUrl ? connectPostgres(opts.databaseUrl) : openPglite(opts.pgliteDataDir);
}
