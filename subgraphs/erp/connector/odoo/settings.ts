import { z } from 'zod';
import { MAPPABLE_ACCOUNT_FIELDS, customFieldName, refuseTwice } from '../../../../lib/connectors/field-mappings';

const odooField = z.string().regex(/^[a-z][a-z0-9_]{0,62}$/, 'an Odoo technical field name (lower case, digits, _), e.g. x_segment');
const owner = z.enum(['CRM', 'ERP']);

/**
 * Which system wins for each account field an Odoo partner carries. Today's rules are the defaults: the CRM owns the
 * name and the descriptive fields (a different value in Odoo is drift, repaired from the CRM where the sync writes that
 * field), the ERP owns the credit limit (Odoo's value is applied). `creditLimit: CRM` makes the limit set through our
 * API win: a different limit in Odoo is drift, repaired by pushing ours.
 */
export const accountOwnership = z.object({
  name: owner.default('CRM'),
  domain: owner.default('CRM'),
  industry: owner.default('CRM'),
  creditLimit: owner.default('ERP'),
}).strict();
export type AccountOwnership = z.infer<typeof accountOwnership>;
export const DEFAULT_OWNERSHIP: AccountOwnership = accountOwnership.parse({});

/**
 * A tenant's declarative field mappings for its Odoo connection, versioned (each change stored is a new version and
 * queues a resync of every linked partner): Odoo partner fields onto canonical account fields and onto the account's
 * `customFields`, and the account's field ownership.
 */
export const odooFieldMappings = z.object({
  version: z.number().int().min(1).default(1),
  account: z.object({
    fields: z.array(z.object({ odoo: odooField, canonical: z.enum(MAPPABLE_ACCOUNT_FIELDS) }).strict()).max(10).default([]),
    customFields: z.array(z.object({ odoo: odooField, field: customFieldName }).strict()).max(50).default([]),
    ownership: accountOwnership.default(DEFAULT_OWNERSHIP),
  }).strict().default({ fields: [], customFields: [], ownership: DEFAULT_OWNERSHIP }),
}).strict().superRefine((m, ctx) => {
  refuseTwice(ctx, [...m.account.fields.map((x) => x.odoo), ...m.account.customFields.map((x) => x.odoo)], ['account'], 'Odoo field');
  refuseTwice(ctx, m.account.fields.map((x) => x.canonical), ['account', 'fields'], 'field');
  refuseTwice(ctx, m.account.customFields.map((x) => x.field), ['account', 'customFields'], 'field');
});
export type OdooFieldMappings = z.infer<typeof odooFieldMappings>;

/** An Odoo connection's settings (not secret). */
export const odooSettings = z.object({
  /** The server, e.g. https://acme.odoo.com; the fake's URL in tests. */
  url: z.string().url(),
  db: z.string().min(1),
  /** The API user's login (not secret; its API key is the credential). */
  login: z.string().min(1),
  /** Re-read window behind the cursor: Odoo stamps `write_date` at transaction start, so a long transaction can
   * commit records older than ones already read. */
  overlapMs: z.number().int().min(0).default(5 * 60_000),
  /** The bank/cash journal payments are registered in; null: the wizard's default for the company. */
  paymentJournalId: z.number().int().positive().nullable().default(null),
  /** The tenant's field mappings and field ownership. */
  fieldMappings: odooFieldMappings.default({ version: 1, account: { fields: [], customFields: [], ownership: DEFAULT_OWNERSHIP } }),
});
export type OdooSettings = z.infer<typeof odooSettings>;

/** An Odoo connection's field mappings and ownership (stored validated; today's rules when it has none). */
export function odooMappingsOf(settings: Record<string, unknown>): OdooFieldMappings {
  const parsed = odooFieldMappings.safeParse(settings['fieldMappings'] ?? {});
  return parsed.success ? parsed.data : odooFieldMappings.parse({});
}

/** The Odoo partner fields the mappings read, besides the ones the adapter always reads. */
export function mappedPartnerFields(m: OdooFieldMappings): string[] {
  return [...m.account.fields.map((f) => f.odoo), ...m.account.customFields.map((f) => f.odoo)];
}

/** The API user's API key (Preferences > Account Security > New API Key), used in place of its password. */
export const odooCredentials = z.object({ apiKey: z.string().min(1) });
export type OdooCredentials = z.infer<typeof odooCredentials>;
