import { PGlite, types } from '@electric-sql/pglite';
import type { Db, Queryable } from './db';
import { tracedDb } from '../telemetry/db';

/**
 * Embedded Postgres (WASM, in-process): the default when no DATABASE_URL is set. `dataDir` undefined keeps the
 * database in memory. Type parsing matches the pg adapter: int8/numeric/date as strings, timestamptz as Date.
 */
export async function openPglite(dataDir?: string): Promise<Db> {
  const identity = (v: string) => v;
  const db = await PGlite.create(dataDir, {
    parsers: { [types.INT8]: identity, [types.NUMERIC]: identity, [types.DATE]: identity },
  });
  const wrap = (q: Pick<PGlite, 'query'>): Queryable => ({
    query: async <R extends object>(text: string, params?: readonly unknown[]) =>
      (await q.query<R>(text, params ? [...params] : undefined)).rows,
  });
  return tracedDb({
    kind: 'pglite',
    query: (text, params) => wrap(db).query(text, params),
    transaction: (fn) => db.transaction((tx) => fn(wrap(tx))),
    async exec(script) {
      await db.exec(script);
    },
    close: () => db.close(),
  });
}
