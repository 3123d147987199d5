import { z } from 'zod';

export interface Money {
  amountMinor: string;
  currency: string;
}

export const currencyCode = z.string().regex(/^[A-Z]{3}$/, 'must be an ISO-4217 code such as USD');
export const amountMinor = z.string().regex(/^-?\d{1,18}$/, 'must be an integer number of minor units, as a string');
export const nonNegativeAmountMinor = z.string().regex(/^\d{1,18}$/, 'must be a non-negative integer number of minor units');

export const moneyInput = z.object({ amountMinor: nonNegativeAmountMinor, currency: currencyCode });

export function money(amount: bigint | string, currency: string): Money {
  return { amountMinor: amount.toString(), currency };
}
