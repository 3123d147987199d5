import { badUserInput } from '../../lib/errors';
import { type Money, money } from '../../lib/money';
import type { BillingSubscriptionModel, NewSubscriptionItem } from './connector/models';
import type { BillingConnector } from './connector/port';
import type { ItemInput } from './validation';

/**
 * Monthly recurring revenue in exact integer minor units: monthly items count in full, yearly items as a twelfth.
 * Rounding: yearly amounts are summed first and divided by 12 once, truncating (never reports more than is billed;
 * at most 11 minor units short, whatever the number of items).
 */
export function mrr(subscription: BillingSubscriptionModel): Money {
  let monthly = 0n;
  let yearly = 0n;
  for (const item of subscription.items) {
    const amount = BigInt(item.price.unitAmount.amountMinor) * BigInt(item.quantity);
    if (item.price.interval === 'YEAR') yearly += amount;
    else monthly += amount;
  }
  return money(monthly + yearly / 12n, subscription.currency);
}

/**
 * Turns `{ planCode, interval, quantity }` items into price ids in `currency`. An item whose plan is unknown,
 * retired or not priced in that currency and interval is BAD_USER_INPUT naming `input.items.N.planCode`.
 */
export async function priceItems(billing: BillingConnector, currency: string, items: readonly ItemInput[]): Promise<NewSubscriptionItem[]> {
  const prices = await billing.activePricesByPlanCodes([...new Set(items.map((i) => i.planCode))], currency);
  return items.map((item, index) => {
    const price = prices.find((p) => p.planCode === item.planCode && p.interval === item.interval);
    if (!price) {
      throw badUserInput(`input.items.${index}.planCode`, `no active plan "${item.planCode}" with a ${item.interval} price in ${currency}`);
    }
    return { planId: price.planId, priceId: price.id, quantity: item.quantity };
  });
}
