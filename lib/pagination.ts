import { badUserInput } from './errors';

export const MAX_PAGE_SIZE = 100;

/** A validated page request: fetch `limit + 1` rows with id greater than `afterId` to learn `hasNextPage`. */
export interface Page {
  limit: number;
  afterId: string | null;
}

export function parsePage(first: number | null | undefined, after: string | null | undefined): Page {
  const limit = first ?? 20;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) {
    throw badUserInput('first', `must be between 1 and ${MAX_PAGE_SIZE}`);
  }
  return { limit, afterId: after ? decodeCursor(after) : null };
}

const PREFIX = 'c1:';

export function encodeCursor(id: string): string {
  return Buffer.from(PREFIX + id, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): string {
  const raw = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!raw.startsWith(PREFIX) || raw.length === PREFIX.length) throw badUserInput('after', 'is not a cursor this API issued');
  return raw.slice(PREFIX.length);
}

export interface Connection<T> {
  edges: { cursor: string; node: T }[];
  nodes: T[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

/** Builds a connection from up to `limit + 1` rows ordered by id. */
export function toConnection<T extends { id: string }>(rows: readonly T[], limit: number): Connection<T> {
  const nodes = rows.slice(0, limit);
  const edges = nodes.map((node) => ({ cursor: encodeCursor(node.id), node }));
  const last = edges[edges.length - 1];
  return { edges, nodes, pageInfo: { hasNextPage: rows.length > limit, endCursor: last ? last.cursor : null } };
}
