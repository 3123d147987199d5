/** Column readers shared by the reference-store adapters: one place that knows how drivers hand values back. */

export function iso(value: unknown): string {
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'string') return new Date(value).toISOString();
  throw new TypeError(`expected a timestamp, got ${typeof value}`);
}

export function isoOrNull(value: unknown): string | null {
  return value === null || value === undefined ? null : iso(value);
}

export function str(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint') return value.toString();
  throw new TypeError(`expected a string, got ${typeof value}`);
}

export function strOrNull(value: unknown): string | null {
  return value === null || value === undefined ? null : str(value);
}

export function int(value: unknown): number {
  const n = typeof value === 'number' ? value : Number(str(value));
  if (!Number.isInteger(n)) throw new TypeError(`expected an integer, got ${String(value)}`);
  return n;
}

/** A new canonical id: a prefix naming the type and a random UUID (opaque to clients). */
export function newId(prefix: string): string {
  return `${prefix}_${crypto.randomUUID().replace(/-/g, '')}`;
}
