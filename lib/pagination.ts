import { badUserInput } from './errors';

export const MAX_PAGE_SIZE = 100;

/** How a list is ordered: by id (the default), or by last update, oldest first (incremental reads). */
export type ListOrder = 'ID' | 'UPDATED_AT';

/**
 * A validated page request: fetch `limit + 1` rows after the cursor's position to learn `hasNextPage`. In `UPDATED_AT`
 * order the position is (update time to the millisecond, id), so rows updated in the same millisecond keep a stable
 * order and a page boundary between them loses nothing.
 */
export interface Page {
  limit: number;
  order: ListOrder;
  afterId: string | null;
  /** With `order: 'UPDATED_AT'`: the update time (ISO-8601, ms) of the row the cursor points at. */
  afterUpdatedAt: string | null;
  /** Only rows updated strictly after this instant (ISO-8601), compared to the millisecond. */
  updatedAfter: string | null;
}

/** A page by id for internal walks over a whole list (reconciliation, replays). */
export const idPage = (limit: number, afterId: string | null): Page => ({ limit, order: 'ID', afterId, afterUpdatedAt: null, updatedAfter: null });

/** The arguments every list field takes. */
export interface ListArgs {
  first?: number | null;
  after?: string | null;
  updatedAfter?: unknown;
  orderBy?: ListOrder | null;
}

export function parsePage(args: ListArgs): Page {
  const limit = args.first ?? 20;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) {
    throw badUserInput('first', `must be between 1 and ${MAX_PAGE_SIZE}`);
  }
  const order = args.orderBy ?? 'ID';
  const cursor = args.after ? decodeCursor(args.after, order) : null;
  return { limit, order, afterId: cursor?.id ?? null, afterUpdatedAt: cursor?.updatedAt ?? null, updatedAfter: instant(args.updatedAfter) };
}

function instant(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  const ms = typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms)) throw badUserInput('updatedAfter', 'must be an ISO-8601 date-time, e.g. 2026-12-01T10:00:00.000Z');
  return new Date(ms).toISOString();
}

const BY_ID = 'c1:';
const BY_UPDATE = 'c2:';

export function encodeCursor(id: string, updatedAt?: string): string {
  return Buffer.from(updatedAt === undefined ? BY_ID + id : `${BY_UPDATE}${updatedAt}|${id}`, 'utf8').toString('base64url');
}

/** The position a cursor points at; a cursor of the other order (or not ours) is BAD_USER_INPUT. */
export function decodeCursor(cursor: string, order: ListOrder = 'ID'): { id: string; updatedAt: string | null } {
  const raw = Buffer.from(cursor, 'base64url').toString('utf8');
  const refuse = () => badUserInput('after', `is not a cursor this API issued for orderBy ${order}`);
  if (order === 'ID') {
    if (!raw.startsWith(BY_ID) || raw.length === BY_ID.length) throw refuse();
    return { id: raw.slice(BY_ID.length), updatedAt: null };
  }
  const match = /^c2:(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)\|(.+)$/.exec(raw);
  if (!match?.[1] || !match[2]) throw refuse();
  return { id: match[2], updatedAt: match[1] };
}

export interface Connection<T> {
  edges: { cursor: string; node: T }[];
  nodes: T[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

/**
 * Builds a connection from up to `page.limit + 1` rows in the page's order. `timeOf` is the row's update time (the
 * column the SQL ordered by), needed for `UPDATED_AT` cursors.
 */
export function toConnection<T extends { id: string; updatedAt?: string }>(
  rows: readonly T[],
  page: Page,
  timeOf: (row: T) => string | undefined = (row) => row.updatedAt,
): Connection<T> {
  const nodes = rows.slice(0, page.limit);
  const cursorOf = (node: T): string => {
    if (page.order === 'ID') return encodeCursor(node.id);
    const at = timeOf(node);
    if (!at) throw new Error(`no update time on ${node.id} for an UPDATED_AT cursor`);
    return encodeCursor(node.id, new Date(at).toISOString());
  };
  const edges = nodes.map((node) => ({ cursor: cursorOf(node), node }));
  const last = edges[edges.length - 1];
  return { edges, nodes, pageInfo: { hasNextPage: rows.length > page.limit, endCursor: last ? last.cursor : null } };
}
