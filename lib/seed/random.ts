import { createHash } from 'node:crypto';

/** A deterministic random source (mulberry32): the same seed gives the same demo data on every machine. */
export interface Rng {
  next(): number;
  int(min: number, max: number): number;
  pick<T>(items: readonly T[]): T;
}

export function rng(seed: string): Rng {
  let state = createHash('sha256').update(seed).digest().readUInt32LE(0);
  const next = () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    pick: <T>(items: readonly T[]): T => {
      const item = items[Math.floor(next() * items.length)];
      if (item === undefined) throw new Error('pick from an empty list');
      return item;
    },
  };
}

/** A deterministic canonical id for seeded records, shaped like the ids the API creates. */
export function seededId(prefix: string, ...parts: (string | number)[]): string {
  return `${prefix}_${createHash('sha256').update(parts.join('|')).digest('hex').slice(0, 32)}`;
}

/** One seeded CRM account, as handed to the ERP and billing seeders so all systems describe the same customers. */
export interface SeedAccount {
  tenant: string;
  index: number;
  id: string;
  name: string;
  currency: string;
  createdAt: string;
}

/** An account's record in another system, created by that system's seed: what the CRM and the ledger link it by. */
export interface SeedLink {
  accountId: string;
  system: 'ERP' | 'BILLING';
  remoteId: string;
  updatedAt: string;
}
