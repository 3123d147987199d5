import { z } from 'zod';
import type { OAuthTokenStore } from '../../../lib/connectors/oauth-tokens';
import type { Outbound } from '../../../lib/connectors/outbound';
import type { SystemName } from '../../../lib/outbox';
import type { BillingRemote, BillingWebhooks } from '../../billing/connector/remote-port';
import { stripeBillingRemote, stripeRequestsPerSecond, stripeWebhooks } from '../../billing/connector/stripe';
import { stripeSettings } from '../../billing/connector/stripe/settings';
import { HubSpotCrmRemote } from '../../crm/connector/hubspot/adapter';
import { hubSpotSettings } from '../../crm/connector/hubspot/settings';
import type { CrmRemote } from '../../crm/connector/remote-port';
import { OdooErpRemote } from '../../erp/connector/odoo/adapter';
import { odooSettings } from '../../erp/connector/odoo/settings';
import type { ErpRemote } from '../../erp/connector/remote-port';
import { PermanentError } from '../../../lib/connectors/errors';
import type { ConnectionCredentials, ConnectionModel } from './models';

/** Settings every remote adapter understands (the outbound policy's knobs). */
export const outboundSettings = z.object({
  /** The vendor's published request limit for this account (Stripe: 100 live, 25 test mode). */
  maxRequestsPerSecond: z.number().positive().max(10_000).optional(),
  timeoutMs: z.number().int().min(100).max(120_000).optional(),
  breakAfter: z.number().int().min(1).max(100).optional(),
  halfOpenAfterMs: z.number().int().min(10).max(600_000).optional(),
  /** Where the vendor's API is (a fake in tests and the demo), e.g. http://127.0.0.1:12111. */
  apiBase: z.string().url().optional(),
});
export type OutboundSettings = z.infer<typeof outboundSettings>;

/** What an adapter needs to be built: its connection, the opened credentials and the connection's Outbound. */
export interface AdapterInput {
  connection: ConnectionModel;
  credentials: ConnectionCredentials;
  settings: OutboundSettings;
  outbound: Outbound;
  /** Where an OAuth connection's tokens are kept (its sealed credentials), shared by every process. */
  tokens: OAuthTokenStore;
}

/** One adapter a connection may choose. `reference` is built in and has no remote side. */
export interface AdapterDefinition {
  system: SystemName;
  needsCredentials: boolean;
  /** Default outbound limit when the connection sets none (from the key's mode where the vendor has modes). */
  defaultRequestsPerSecond?: (credentials: ConnectionCredentials) => number;
  billing?: (input: AdapterInput) => BillingRemote;
  billingWebhooks?: (input: AdapterInput) => BillingWebhooks;
  /** The vendor's own settings, validated with the outbound ones when a connection is created. */
  vendorSettings?: z.ZodObject;
  crm?: (input: AdapterInput) => CrmRemote;
  erp?: (input: AdapterInput) => ErpRemote;
}

const stripe: AdapterDefinition = {
  system: 'BILLING',
  needsCredentials: true,
  // Customer metadata mappings (the SDK needs no other setting of ours).
  vendorSettings: stripeSettings,
  defaultRequestsPerSecond: (c) => stripeRequestsPerSecond(c.apiKey),
  billing: ({ credentials, settings, outbound }) =>
    stripeBillingRemote({ secretKey: credentials.apiKey, outbound, ...(settings.apiBase ? { apiBase: settings.apiBase } : {}), ...(settings.timeoutMs ? { timeoutMs: settings.timeoutMs } : {}) }),
  billingWebhooks: ({ credentials }) => {
    // Without a signing secret no delivery can be verified: every webhook is refused (401).
    const secret = credentials.webhookSecret ?? '';
    return secret ? stripeWebhooks({ secret }) : { verify: () => stripeWebhooks({ secret: 'whsec_unset' }).verify('', undefined) };
  },
};

/** A vendor's own settings from the connection's JSON (`apiBase` is the shared name for where the API is). */
function vendorSettings<T>(schema: { parse(v: unknown): T }, input: AdapterInput, baseKey: string): T {
  try {
    return schema.parse({ ...input.connection.settings, ...(input.settings.apiBase ? { [baseKey]: input.settings.apiBase } : {}) });
  } catch (err) {
    throw new PermanentError('INVALID_SETTINGS', `connection ${input.connection.id}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

const hubspot: AdapterDefinition = {
  system: 'CRM',
  needsCredentials: true,
  // HubSpot: 100 requests per 10 seconds per private app (Free/Starter), 190 on Professional/Enterprise.
  defaultRequestsPerSecond: () => 10,
  vendorSettings: hubSpotSettings.omit({ basePath: true }),
  crm: (input) => new HubSpotCrmRemote({
    credentials: input.credentials, settings: vendorSettings(hubSpotSettings, input, 'basePath'), outbound: input.outbound, tokenStore: input.tokens,
  }),
};

const odoo: AdapterDefinition = {
  system: 'ERP',
  needsCredentials: true,
  // Odoo publishes no API limit; one shared server per database, so a gentle default.
  defaultRequestsPerSecond: () => 10,
  // `url` is the shared `apiBase` (https://acme.odoo.com).
  vendorSettings: odooSettings.omit({ url: true }),
  erp: (input) => new OdooErpRemote({ credentials: { apiKey: input.credentials.apiKey }, settings: vendorSettings(odooSettings, input, 'url'), outbound: input.outbound }),
};

const adapters = new Map<string, AdapterDefinition>([['stripe', stripe], ['hubspot', hubspot], ['odoo', odoo]]);

/**
 * Vendor adapters register here (their module calls this once, e.g. the Stripe adapter's `register.ts`), so the
 * connection layer does not import every vendor SDK and a vendor does not import the connection layer's internals.
 */
export function registerAdapter(name: string, definition: AdapterDefinition): void {
  adapters.set(name, definition);
}

/** The adapter called `name` for `system`, or undefined. `reference` serves every system. */
export function adapterFor(name: string, system: SystemName): AdapterDefinition | undefined {
  if (name === 'reference') return { system, needsCredentials: false };
  const a = adapters.get(name);
  return a && a.system === system ? a : undefined;
}

export function adapterNames(): string[] {
  return [...adapters.keys()];
}
