/**
 * Stripe's request encoding: `application/x-www-form-urlencoded` bodies (and query strings) whose keys carry nesting in
 * brackets: `metadata[canonicalId]=acc_1`, `items[0][price]=price_1`, `expand[]=data.product`. Numeric (or empty)
 * brackets make arrays, other brackets objects. Values stay strings, as on the wire; handlers convert them.
 */
export type FormValue = string | FormObject | FormValue[];
export interface FormObject {
  [key: string]: FormValue;
}

export function parseForm(encoded: string): FormObject {
  const root: FormObject = {};
  for (const [key, value] of new URLSearchParams(encoded)) assign(root, path(key), value);
  return root;
}

/** `items[0][price]` -> ['items', '0', 'price']. */
function path(key: string): string[] {
  const first = key.indexOf('[');
  if (first < 0) return [key];
  const parts = [key.slice(0, first)];
  for (const m of key.slice(first).matchAll(/\[([^\]]*)\]/g)) parts.push(m[1] ?? '');
  return parts;
}

function assign(container: FormObject | FormValue[], keys: readonly string[], value: string): void {
  const [head, ...rest] = keys;
  if (head === undefined) return;
  const index = Array.isArray(container) ? (head === '' ? container.length : Number(head)) : -1;
  const existing = Array.isArray(container) ? container[index] : container[head];
  if (rest.length === 0) {
    set(container, head, index, value);
    return;
  }
  const next = rest[0] === '' || /^\d+$/.test(rest[0] ?? '') ? [] : {};
  const child = typeof existing === 'object' ? existing : next;
  set(container, head, index, child);
  assign(child, rest, value);
}

function set(container: FormObject | FormValue[], key: string, index: number, value: FormValue): void {
  if (Array.isArray(container)) container[index] = value;
  else container[key] = value;
}
