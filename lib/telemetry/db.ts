import type { Db, Queryable } from '../db/db';
import { SpanKind, traced, tracingEnabled } from './tracing';

/** `SELECT`, `INSERT`, `WITH`...: the statement's first keyword names its span (the text is an attribute). */
function operationOf(text: string): string {
  const match = /^\s*([A-Za-z]+)/.exec(text);
  return match?.[1]?.toUpperCase() ?? 'SQL';
}

function tracedQueryable(q: Queryable, system: string): Queryable {
  return {
    query: (text, params) =>
      traced(`db ${operationOf(text)}`, () => ({ 'db.system.name': system, 'db.query.text': text, 'db.operation.name': operationOf(text) }), () => q.query(text, params), {
        kind: SpanKind.CLIENT,
      }),
  };
}

/**
 * The database layer with a CLIENT span per statement (parameterised text, never the values). Returns `db` itself
 * when tracing is off at open time, so an untraced process pays nothing per statement.
 */
export function tracedDb(db: Db): Db {
  if (!tracingEnabled()) return db;
  const system = 'postgresql';
  const direct = tracedQueryable(db, system);
  return {
    kind: db.kind,
    query: direct.query,
    transaction: (fn) => traced('db transaction', { 'db.system.name': system }, () => db.transaction((tx) => fn(tracedQueryable(tx, system)))),
    exec: (script) => traced('db exec', { 'db.system.name': system }, () => db.exec(script)),
    close: () => db.close(),
  };
}
