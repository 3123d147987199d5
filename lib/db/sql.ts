import type { Page } from '../pagination';

/** Builds `AND ...` clauses with numbered parameters, starting after the ones already bound. */
export class Where {
  readonly clauses: string[] = [];
  constructor(readonly params: unknown[]) {}
  add(sql: (p: string) => string, value: unknown): void {
    this.params.push(value);
    this.clauses.push(sql(`$${this.params.length}`));
  }
  toString(): string {
    return this.clauses.map((c) => ` AND ${c}`).join('');
  }
}

/**
 * The sort key of `UPDATED_AT` order: the update time to the millisecond (what the API shows and cursors carry), in
 * UTC so the expression is immutable and the `(tenant_id, <key>, id)` indexes of the migrations serve it.
 */
export const updateKey = (column: string): string => `date_trunc('milliseconds', ${column} AT TIME ZONE 'UTC')`;
const instant = (param: string): string => `(${param}::timestamptz AT TIME ZONE 'UTC')`;

/** Adds the page's `updatedAfter` and cursor clauses to `w`; returns the ORDER BY list. */
export function pageOrder(w: Where, page: Page, timeColumn: string, idColumn: string): string {
  const key = updateKey(timeColumn);
  if (page.updatedAfter) w.add((p) => `${key} > ${instant(p)}`, page.updatedAfter);
  if (page.order === 'UPDATED_AT') {
    if (page.afterId && page.afterUpdatedAt) {
      w.params.push(page.afterUpdatedAt);
      const at = `$${w.params.length}`;
      w.add((p) => `(${key}, ${idColumn}) > (${instant(at)}, ${p})`, page.afterId);
    }
    return `${key}, ${idColumn}`;
  }
  if (page.afterId) w.add((p) => `${idColumn} > ${p}`, page.afterId);
  return idColumn;
}

/**
 * Top `limit + 1` children per parent in one statement (window function), for nested connections.
 * Expects `$1` = tenant and `$2` = parent ids.
 */
export function childPages(table: string, cols: string, parentCol: string, w: Where, page: Page, timeColumn = 'updated_at'): string {
  const order = pageOrder(w, page, timeColumn, 'id');
  w.params.push(page.limit + 1);
  return `SELECT ${cols} FROM (SELECT ${cols}, row_number() OVER (PARTITION BY ${parentCol} ORDER BY ${order}) AS rn
    FROM ${table} WHERE tenant_id = $1 AND ${parentCol} = ANY($2::text[])${w}) ranked WHERE rn <= $${w.params.length} ORDER BY ${parentCol}, rn`;
}

/** One page of a top-level list in the page's order. Expects `$1` = tenant. */
export function listSql(table: string, cols: string, w: Where, page: Page, timeColumn = 'updated_at'): string {
  const order = pageOrder(w, page, timeColumn, 'id');
  w.params.push(page.limit + 1);
  return `SELECT ${cols} FROM ${table} WHERE tenant_id = $1${w} ORDER BY ${order} LIMIT $${w.params.length}`;
}

/**
 * `column ILIKE <pattern>` matching `text` anywhere, literally: `%`, `_` and the escape character in user input are
 * escaped, so a filter for "50%" does not match everything.
 */
export function containsText(column: string, w: Where, text: string): void {
  w.add((p) => `${column} ILIKE '%' || ${p} || '%' ESCAPE '\\'`, text.replace(/[\\%_]/g, '\\$&'));
}
