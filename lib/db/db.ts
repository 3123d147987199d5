/** One row as the driver returns it. Column types are asserted by the adapter that reads them. */
export type Row = Record<string, unknown>;

export interface Queryable {
  /** Runs one parameterised statement. */
  query<R extends object = Row>(text: string, params?: readonly unknown[]): Promise<R[]>;
}

/** The one database access layer: real Postgres (pg) or embedded PGlite behind the same port. */
export interface Db extends Queryable {
  readonly kind: 'postgres' | 'pglite';
  /** Runs `fn` in a transaction; commits when it resolves, rolls back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(script: string): Promise<void>;
  close(): Promise<void>;
}

/** Counts statements sent through a Db: how the N+1 test sees each subgraph's SQL. */
export interface StatementCounter {
  count: number;
}

export function countStatements(db: Db, counter: StatementCounter): Db {
  const counted = (q: Queryable): Queryable => ({
    query: (text, params) => {
      counter.count += 1;
      return q.query(text, params);
    },
  });
  return {
    kind: db.kind,
    query: (text, params) => counted(db).query(text, params),
    transaction: (fn) => db.transaction((tx) => fn(counted(tx))),
    exec: (script) => db.exec(script),
    close: () => db.close(),
  };
}
