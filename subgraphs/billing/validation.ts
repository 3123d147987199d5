import { z } from 'zod';
import { currencyCode } from '../../lib/money';

// GraphQL defaults (interval MONTH, quantity 1, trialDays 0) do not apply to an explicit null, so they are applied here too.
const item = z.object({
  planCode: z.string().trim().min(1, 'must not be empty').max(64, 'must be at most 64 characters'),
  interval: z.enum(['MONTH', 'YEAR']).nullish().transform((v) => v ?? 'MONTH'),
  quantity: z.number().int('must be an integer').min(1, 'must be at least 1').max(10000, 'must be at most 10000').nullish().transform((v) => v ?? 1),
});

/** 1..20 items, each plan and interval at most once (one line per price, as billing systems require). */
const items = z
  .array(item)
  .min(1, 'must have at least one item')
  .max(20, 'must have at most 20 items')
  .superRefine((list, ctx) => {
    const seen = new Set<string>();
    list.forEach((i, index) => {
      const key = `${i.planCode}|${i.interval}`;
      if (seen.has(key)) ctx.addIssue({ code: 'custom', path: [index, 'planCode'], message: `repeats plan "${i.planCode}" (${i.interval})` });
      seen.add(key);
    });
  });

export const createSubscriptionInput = z.object({
  accountId: z.string().trim().min(1, 'must not be empty'),
  currency: currencyCode,
  items,
  trialDays: z.number().int('must be an integer').min(0, 'must be at least 0').max(365, 'must be at most 365').nullish().transform((v) => v ?? 0),
});

export const changeSubscriptionInput = z.object({ items });

export type ItemInput = z.infer<typeof item>;
