import { z } from 'zod';
import { MAPPABLE_ACCOUNT_FIELDS, customFieldName, refuseTwice } from '../../../../lib/connectors/field-mappings';

const metadataKey = z.string().regex(/^[A-Za-z0-9_-]{1,40}$/, 'a Stripe metadata key (letters, digits, _ and -; 40 at most)')
  .refine((k) => k !== 'canonicalId' && k !== 'planCode', 'is a key this product keeps for itself');

/**
 * A tenant's declarative field mappings for its Stripe connection, versioned like every connection's (a change
 * queues a re-read of every linked customer): customer metadata keys onto the account's `customFields`, and onto
 * canonical account fields, which the CRM owns unless `ownership` gives them to billing (then Stripe's value is
 * applied; otherwise a different value is drift, reported).
 */
export const stripeFieldMappings = z.object({
  version: z.number().int().min(1).default(1),
  customer: z.object({
    fields: z.array(z.object({ metadata: metadataKey, canonical: z.enum(MAPPABLE_ACCOUNT_FIELDS) }).strict()).max(10).default([]),
    customFields: z.array(z.object({ metadata: metadataKey, field: customFieldName }).strict()).max(50).default([]),
    ownership: z.object({ domain: z.enum(['CRM', 'BILLING']).default('CRM'), industry: z.enum(['CRM', 'BILLING']).default('CRM') }).strict()
      .default({ domain: 'CRM', industry: 'CRM' }),
  }).strict().default({ fields: [], customFields: [], ownership: { domain: 'CRM', industry: 'CRM' } }),
}).strict().superRefine((m, ctx) => {
  refuseTwice(ctx, [...m.customer.fields.map((x) => x.metadata), ...m.customer.customFields.map((x) => x.metadata)], ['customer'], 'metadata key');
  refuseTwice(ctx, m.customer.fields.map((x) => x.canonical), ['customer', 'fields'], 'field');
  refuseTwice(ctx, m.customer.customFields.map((x) => x.field), ['customer', 'customFields'], 'field');
});
export type StripeFieldMappings = z.infer<typeof stripeFieldMappings>;

/** A Stripe connection's own settings (besides the outbound ones every adapter has). */
export const stripeSettings = z.object({
  fieldMappings: stripeFieldMappings.default({ version: 1, customer: { fields: [], customFields: [], ownership: { domain: 'CRM', industry: 'CRM' } } }),
});

/** A Stripe connection's field mappings (stored validated; the defaults, which map nothing, when it has none). */
export function stripeMappingsOf(settings: Record<string, unknown>): StripeFieldMappings {
  const parsed = stripeFieldMappings.safeParse(settings['fieldMappings'] ?? {});
  return parsed.success ? parsed.data : stripeFieldMappings.parse({});
}

/** Whether the connection maps any customer metadata (only then are Stripe's customer events applied). */
export function mapsCustomerMetadata(settings: Record<string, unknown>): boolean {
  const { customer } = stripeMappingsOf(settings);
  return customer.fields.length + customer.customFields.length > 0;
}
