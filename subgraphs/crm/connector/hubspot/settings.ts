import { z } from 'zod';
import type { OpportunityStage } from '../models';

const stage = z.enum(['PROSPECTING', 'QUALIFICATION', 'PROPOSAL', 'NEGOTIATION', 'CLOSED_WON', 'CLOSED_LOST']);

/** One HubSpot property mapped onto one of our custom fields. */
const customFieldMapping = z.object({
  /** The HubSpot property's internal name (Settings > Properties), e.g. `acme_tier`. */
  property: z.string().regex(/^[a-z][a-z0-9_]{0,99}$/, 'a HubSpot internal property name (lower case, digits, _)'),
  /** Our field name, as `customFields { name }` shows it. */
  field: z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,63}$/, 'a field name (letters, digits, _; 64 at most)'),
});

/**
 * A tenant's declarative field mappings for its HubSpot connection, versioned (each change stored is a new version,
 * and queues a resync of the records it affects). Deal stages are mapped by `dealStages`.
 */
export const hubSpotFieldMappings = z.object({
  version: z.number().int().min(1).default(1),
  account: z.object({ customFields: z.array(customFieldMapping).max(50).default([]) }).default({ customFields: [] }),
}).superRefine((m, ctx) => {
  for (const key of ['field', 'property'] as const) {
    const seen = new Set<string>();
    for (const c of m.account.customFields) {
      if (seen.has(c[key])) ctx.addIssue({ code: 'custom', path: ['account', 'customFields'], message: `${key} "${c[key]}" is mapped twice` });
      seen.add(c[key]);
    }
  }
});
export type HubSpotFieldMappings = z.infer<typeof hubSpotFieldMappings>;

/**
 * A HubSpot connection's settings (not secret; stored with the connection and validated when written). Deal stages
 * are per portal and pipeline, so their mapping onto ours is configuration; the defaults are HubSpot's default
 * sales pipeline.
 */
export const hubSpotSettings = z.object({
  /** Where the API lives; the fake's URL in tests. */
  basePath: z.string().url().default('https://api.hubapi.com'),
  /** The custom company/contact/deal property (unique values) that holds our canonical id. */
  canonicalIdProperty: z.string().min(1).default('sor_canonical_id'),
  pipeline: z.string().min(1).default('default'),
  /** HubSpot deal stage id -> our stage. Writes use the first HubSpot stage listed for each of ours. */
  dealStages: z.record(z.string(), stage).default({
    appointmentscheduled: 'PROSPECTING', qualifiedtobuy: 'QUALIFICATION', presentationscheduled: 'PROPOSAL',
    decisionmakerboughtin: 'PROPOSAL', contractsent: 'NEGOTIATION', closedwon: 'CLOSED_WON', closedlost: 'CLOSED_LOST',
  }),
  /**
   * The portal's company currency (Settings > Account defaults): the currency of a deal without
   * `deal_currency_code`, and of a deal without any amount (mirrored as zero).
   */
  companyCurrency: z.string().regex(/^[A-Z]{3}$/, 'an ISO-4217 code').default('USD'),
  /** Re-read window behind the cursor, for HubSpot's eventually consistent search index and clock skew. */
  overlapMs: z.number().int().min(0).default(5 * 60_000),
  /**
   * `private-app`: `apiKey` is the app's access token. `oauth`: `apiKey` is the install's refresh token,
   * `webhookSecret` the app's client secret (which also signs its webhooks) and `oauthClientId` its client id.
   */
  auth: z.enum(['private-app', 'oauth']).default('private-app'),
  oauthClientId: z.string().min(1).optional(),
  /** Extra vendor properties to fetch into remoteData. */
  extraProperties: z.array(z.string()).default([]),
  /** The tenant's field mappings (custom properties onto `customFields`). */
  fieldMappings: hubSpotFieldMappings.default({ version: 1, account: { customFields: [] } }),
});
export type HubSpotSettings = z.infer<typeof hubSpotSettings>;

/**
 * Secrets, in the connection layer's shape: `apiKey` is the private app's access token (or, with `auth: oauth`, the
 * refresh token), `webhookSecret` the app's client secret that signs webhooks (v3) and, for OAuth, refreshes tokens.
 */
export const hubSpotCredentials = z.object({
  apiKey: z.string().min(1),
  webhookSecret: z.string().min(1).nullish(),
});
export type HubSpotCredentials = z.infer<typeof hubSpotCredentials>;

export function stageForWrite(settings: HubSpotSettings, ours: OpportunityStage): string | null {
  return Object.entries(settings.dealStages).find(([, mapped]) => mapped === ours)?.[0] ?? null;
}
