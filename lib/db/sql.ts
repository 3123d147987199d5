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
 * Top `limit + 1` children per parent in one statement (window function), for nested connections.
 * Expects `$1` = tenant and `$2` = parent ids.
 */
export function childPages(table: string, cols: string, parentCol: string, w: Where, page: Page): string {
  if (page.afterId) w.add((p) => `id > ${p}`, page.afterId);
  w.params.push(page.limit + 1);
  return `SELECT ${cols} FROM (SELECT ${cols}, row_number() OVER (PARTITION BY ${parentCol} ORDER BY id) AS rn
    FROM ${table} WHERE tenant_id = $1 AND ${parentCol} = ANY($2::text[])${w}) ranked WHERE rn <= $${w.params.length} ORDER BY ${parentCol}, id`;
}

/** One page of a top-level list ordered by id. Expects `$1` = tenant. */
export function listSql(table: string, cols: string, w: Where, page: Page): string {
  if (page.afterId) w.add((p) => `id > ${p}`, page.afterId);
  w.params.push(page.limit + 1);
  return `SELECT ${cols} FROM ${table} WHERE tenant_id = $1${w} ORDER BY id LIMIT $${w.params.length}`;
}

/**
 * `column ILIKE <pattern>` matching `text` anywhere, literally: `%`, `_` and the escape character in user input are
 * escaped, so a filter for "50%" does not match everything.
 */
export function containsText(column: string, w: Where, text: string): void {
  w.add((p) => `${column} ILIKE '%' || ${p} || '%' ESCAPE '\\'`, text.replace(/[\\%_]/g, '\\$&'));
}
