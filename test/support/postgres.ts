import pg from 'pg';
import type { Db } from '../../lib/db/db';
import { connectPostgres } from '../../lib/db/postgres';
import { TEST_POSTGRES_URL } from './services';

export interface TestDatabase {
  url: string;
  db: Db;
  drop(): Promise<void>;
}

/** A new, empty database on the real test server, so test files running in parallel never share state. */
export async function freshDatabase(): Promise<TestDatabase> {
  const name = `t_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  const admin = new pg.Client({ connectionString: TEST_POSTGRES_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(TEST_POSTGRES_URL);
  url.pathname = `/${name}`;
  const db = await connectPostgres(url.toString());
  return {
    url: url.toString(),
    db,
    async drop() {
      await db.close();
      const c = new pg.Client({ connectionString: TEST_POSTGRES_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}
