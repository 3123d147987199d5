import pg from 'pg';
import type { Db, Queryable } from './db';
import { tracedDb } from '../telemetry/db';

// Dates stay ISO strings (pg would build local-time Date objects); int8 and numeric stay strings (money is exact).
pg.types.setTypeParser(pg.types.builtins.DATE, (v: string) => v);

/** Connects to a real Postgres server; fails fast with a message naming the server when it is unreachable. */
export async function connectPostgres(url: string, max = 10): Promise<Db> {
  const pool = new pg.Pool({ connectionString: url, max, connectionTimeoutMillis: 5000 });
  // An idle client dropped by the server (restart, failover) must not crash the process; the pool replaces it.
  pool.on('error', () => undefined);
  try {
    const client = await pool.connect();
    client.release();
  } catch (err) {
    await pool.end();
    const reason = err instanceof Error ? err.message : String(err);
    throw new Error(`PostgreSQL is not reachable at ${redact(url)} (${reason}). Start it or unset DATABASE_URL for embedded PGlite.`);
  }
  const wrap = (c: pg.Pool | pg.PoolClient): Queryable => ({
    query: async <R extends object>(text: string, params?: readonly unknown[]) =>
      (await c.query(text, params ? [...params] : undefined)).rows as R[],
  });
  return tracedDb({
    kind: 'postgres',
    query: (text, params) => wrap(pool).query(text, params),
    async transaction(fn) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const result = await fn(wrap(client));
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        client.release();
      }
    },
    async exec(script) {
      await pool.query(script);
    },
    close: () => pool.end(),
  });
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}
