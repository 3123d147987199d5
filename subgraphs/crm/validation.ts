import { z } from 'zod';
import { currencyCode, nonNegativeAmountMinor } from '../../lib/money';

const name = z.string().trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters');
const optionalText = z.string().trim().max(200).nullish();
const domain = z.string().regex(/^(?!-)[a-z0-9-]{1,63}(\.[a-z0-9-]{1,63})+$/i, 'must be a domain name such as example.com').nullish();
const email = z.string().email('must be an email address');
const date = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be an ISO date (YYYY-MM-DD)').nullish();

const address = z.object({
  line1: z.string().min(1), line2: optionalText, city: z.string().min(1), region: optionalText, postalCode: optionalText,
  country: z.string().regex(/^[A-Z]{2}$/, 'must be an ISO-3166 alpha-2 code such as US'),
});

export const createAccountInput = z.object({
  name, domain, industry: optionalText, lifecycleStage: z.enum(['LEAD', 'PROSPECT', 'CUSTOMER', 'CHURNED']).nullish(),
  billingAddress: address.nullish(), owner: optionalText,
});
export const updateAccountInput = createAccountInput.partial().extend({ name: name.optional() });

export const createContactInput = z.object({
  accountId: z.string().min(1), firstName: name, lastName: name, email, phone: optionalText, title: optionalText,
});
export const updateContactInput = z.object({
  firstName: name.optional(), lastName: name.optional(), email: email.optional(), phone: optionalText, title: optionalText,
});

export const createOpportunityInput = z.object({
  accountId: z.string().min(1), name, amount: z.object({ amountMinor: nonNegativeAmountMinor, currency: currencyCode }),
  closeDate: date, planCode: optionalText, stage: z.enum(['PROSPECTING', 'QUALIFICATION', 'PROPOSAL', 'NEGOTIATION', 'CLOSED_WON', 'CLOSED_LOST']).nullish(),
});
