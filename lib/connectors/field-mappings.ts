import { z } from 'zod';

/** Canonical account fields a vendor field may be mapped onto (the name is always the vendor's own name field). */
export const MAPPABLE_ACCOUNT_FIELDS = ['domain', 'industry'] as const;
export type MappableAccountField = (typeof MAPPABLE_ACCOUNT_FIELDS)[number];

/** Our name of a custom field, as `customFields { name }` shows it. */
export const customFieldName = z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,63}$/, 'a field name (letters, digits, _; 64 at most)');

/** Adds an issue for each value that occurs twice (a vendor field mapped twice, a field mapped onto twice). */
export function refuseTwice(ctx: z.RefinementCtx, values: readonly string[], path: (string | number)[], what: string): void {
  const seen = new Set<string>();
  for (const v of values) {
    if (seen.has(v)) ctx.addIssue({ code: 'custom', path, message: `${what} "${v}" is mapped twice` });
    seen.add(v);
  }
}
