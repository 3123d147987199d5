import pg from 'pg';
import { fieldError } from '../errors';
import type { Db, Queryable } from './db';
import { tracedDb } from '../telemetry/db';

// Dates stay ISO strings (pg would build local-time Date objects); int8 and numeric stay strings (money is exact).
pg.types.setTypeParser(pg.types.builtins.DATE, (v: string) => v);

/** Socket-level failures and the SQLSTATEs of a server that is going away or not accepting connections yet. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND']);
const SERVER_GONE = new Set(['57P01', '57P02', '57P03']);

/**
 * True when `err` says the connection (or the server) is gone rather than that the statement was wrong: such a client
 * must be discarded, and the caller may retry once the server is back.
 */
export function isConnectionError(err: unknown): boolean {
  // Duck-typed, not `instanceof Error`: errors from node's socket layer may come from another realm (jest's sandbox).
  if (typeof err !== 'object' || err === null) return false;
  const { code, message } = err as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && (NETWORK_CODES.has(code) || SERVER_GONE.has(code) || code.startsWith('08'))) return true;
  // pg reports these without a code.
  return typeof message === 'string' && /Connection terminated|timeout exceeded when trying to connect|not queryable|Client was closed/i.test(message);
}

/**
 * A client from the pool with `onError` already listening. Attached in the pool's callback, not after an `await`: the
 * chunk that ends a new connection's startup can also carry the server's `FATAL 57P01` (a restart), and pg emits it
 * before a promise continuation could run, with no listener of the pool's left on the client.
 */
function checkout(pool: pg.Pool, onError: (err: Error) => void): Promise<pg.PoolClient> {
  return new Promise((resolve, reject) => {
    pool.connect((err, client) => {
      if (err || !client) return reject(err ?? new Error('Connection terminated: no client'));
      client.on('error', onError);
      resolve(client);
    });
  });
}

/** The database is unreachable: a typed, retryable error instead of the driver's message (INTERNAL_SERVER_ERROR). */
function unavailable(err: unknown): unknown {
  return isConnectionError(err) ? fieldError('SERVICE_UNAVAILABLE', 'The database is unavailable, retry shortly', { retryable: true }) : err;
}

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
    // 3D000 invalid_catalog_name: the server answered, only the database is missing.
    if ((err as { code?: unknown }).code === '3D000') throw new DatabaseMissingError(url);
    const reason = err instanceof Error ? err.message : String(err);
    throw new Error(`PostgreSQL is not reachable at ${redact(url)} (${reason}). Start it or unset DATABASE_URL for embedded PGlite.`);
  }
  const wrap = (c: pg.Pool | pg.PoolClient): Queryable => ({
    query: async <R extends object>(text: string, params?: readonly unknown[]) => {
      try {
        return (await c.query(text, params ? [...params] : undefined)).rows as R[];
      } catch (err) {
        throw unavailable(err);
      }
    },
  });
  return tracedDb({
    kind: 'postgres',
    query: (text, params) => wrap(pool).query(text, params),
    async transaction(fn) {
      // A checked-out client has no listener of the pool's: without this one, the server going away while the client
      // is out (restart, failover) emits an unhandled 'error' and kills the process. The failure reaches the
      // transaction through its pending query; the client itself is discarded below.
      let broken: Error | undefined;
      const onError = (err: Error) => (broken ??= err);
      let client: pg.PoolClient;
      try {
        client = await checkout(pool, onError);
      } catch (err) {
        throw unavailable(err);
      }
      try {
        await client.query('BEGIN');
        const result = await fn(wrap(client));
        await client.query('COMMIT');
        return result;
      } catch (err) {
        if (!broken && isConnectionError(err)) broken = err as Error;
        if (!broken) await client.query('ROLLBACK').catch((e: Error) => (broken = e));
        throw unavailable(err);
      } finally {
        client.off('error', onError);
        // Released with the error, the pool destroys the client instead of handing a dead connection to the next caller.
        client.release(broken);
      }
    },
    async exec(script) {
      try {
        await pool.query(script);
      } catch (err) {
        throw unavailable(err);
      }
    },
    close: () => pool.end(),
  });
}

/** The server is up but the URL's database does not exist; the message says how to create it. */
export class DatabaseMissingError extends Error {
  readonly database: string;
  constructor(readonly url: string) {
    const u = new URL(url);
    const database = decodeURIComponent(u.pathname.slice(1));
    super(
      `Database "${database}" does not exist on the PostgreSQL server at ${u.host}. Create it with ` +
        `\`createdb -h ${u.hostname} -p ${u.port || '5432'} -U ${decodeURIComponent(u.username) || 'postgres'} ${database}\`, ` +
        'or let `npm run seed -- --create-database` create it.',
    );
    this.database = database;
  }
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}
