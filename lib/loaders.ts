import DataLoader from 'dataloader';

/** Loads entities by id in one batch per tick; missing ids resolve to null (never another tenant's row). */
export function byIdLoader<T extends { id: string }>(fetch: (ids: readonly string[]) => Promise<T[]>): DataLoader<string, T | null> {
  return new DataLoader<string, T | null>(async (ids) => {
    const rows = await fetch(ids);
    const byId = new Map(rows.map((r) => [r.id, r]));
    return ids.map((id) => byId.get(id) ?? null);
  });
}

/** Loads one list per parent id in one batch per tick. */
export function byParentLoader<T>(
  fetch: (parentIds: readonly string[]) => Promise<T[]>,
  parentOf: (row: T) => string,
): DataLoader<string, T[]> {
  return new DataLoader<string, T[]>(async (parentIds) => {
    const grouped = groupBy(await fetch(parentIds), parentOf);
    return parentIds.map((id) => grouped.get(id) ?? []);
  });
}

/**
 * Loads a page of children per parent (`account.contacts(first, after)`): keys with the same page arguments are
 * fetched together in one statement, so N parents cost one query, not N.
 */
export function childPageLoader<A, T>(
  fetch: (args: A, parentIds: readonly string[]) => Promise<T[]>,
  parentOf: (row: T) => string,
): DataLoader<{ parentId: string; args: A }, T[], string> {
  return new DataLoader<{ parentId: string; args: A }, T[], string>(
    async (keys) => {
      const groups = new Map<string, { args: A; parentIds: string[] }>();
      for (const key of keys) {
        const argsKey = JSON.stringify(key.args);
        const group = groups.get(argsKey) ?? { args: key.args, parentIds: [] };
        group.parentIds.push(key.parentId);
        groups.set(argsKey, group);
      }
      const results = new Map<string, Map<string, T[]>>();
      await Promise.all(
        [...groups].map(async ([argsKey, group]) => {
          results.set(argsKey, groupBy(await fetch(group.args, group.parentIds), parentOf));
        }),
      );
      return keys.map((key) => results.get(JSON.stringify(key.args))?.get(key.parentId) ?? []);
    },
    { cacheKeyFn: (key) => `${key.parentId}|${JSON.stringify(key.args)}` },
  );
}

function groupBy<T>(rows: readonly T[], keyOf: (row: T) => string): Map<string, T[]> {
  const map = new Map<string, T[]>();
  for (const row of rows) {
    const key = keyOf(row);
    const list = map.get(key);
    if (list) list.push(row);
    else map.set(key, [row]);
  }
  return map;
}
