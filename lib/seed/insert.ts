import type { Queryable } from '../db/db';

/** Inserts rows with one multi-row INSERT per chunk (fast for tens of thousands of rows, same SQL on pg and PGlite). */
export async function insertRows(db: Queryable, table: string, columns: readonly string[], rows: readonly unknown[][]): Promise<void> {
  const chunk = Math.max(1, Math.floor(30_000 / columns.length));
  for (let start = 0; start < rows.length; start += chunk) {
    const slice = rows.slice(start, start + chunk);
    const params: unknown[] = [];
    const tuples = slice.map((row) => `(${row.map((value) => { params.push(value); return `$${params.length}`; }).join(', ')})`);
    await db.query(`INSERT INTO ${table} (${columns.join(', ')}) VALUES ${tuples.join(', ')}`, params);
  }
}
