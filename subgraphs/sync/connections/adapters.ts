import { z } from 'zod';
import type { Outbound } from '../../../lib/connectors/outbound';
import type { SystemName } from '../../../lib/outbox';
import type { BillingRemote, BillingWebhooks } from '../../billing/connector/remote-port';
import { stripeBillingRemote, stripeWebhooks } from '../../billing/connector/stripe';
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
}

/** One adapter a connection may choose. `reference` is built in and has no remote side. */
export interface AdapterDefinition {
  system: SystemName;
  needsCredentials: boolean;
  /** Default outbound limit when the connection sets none (from the key's mode where the vendor has modes). */
  defaultRequestsPerSecond?: (credentials: ConnectionCredentials) => number;
  billing?: (input: AdapterInput) => BillingRemote;
  billingWebhooks?: (input: AdapterInput) => BillingWebhooks;
}

/** `apiBase` as the SDK's host/port/protocol options (Stripe's own host when unset). */
function endpoint(apiBase: string | undefined): { host?: string; port?: number; protocol?: 'http' | 'https' } {
  if (!apiBase) return {};
  const url = new URL(apiBase);
  const protocol = url.protocol === 'http:' ? 'http' : 'https';
  return { host: url.hostname, port: url.port ? Number(url.port) : protocol === 'http' ? 80 : 443, protocol };
}

const stripe: AdapterDefinition = {
  system: 'BILLING',
  needsCredentials: true,
  // Stripe's published limits: 100 read/write operations per second in live mode, 25 in test mode.
  defaultRequestsPerSecond: (c) => (c.apiKey.startsWith('sk_live_') || c.apiKey.startsWith('rk_live_') ? 100 : 25),
  billing: ({ credentials, settings, outbound }) =>
    stripeBillingRemote({ secretKey: credentials.apiKey, outbound, ...endpoint(settings.apiBase), ...(settings.timeoutMs ? { timeoutMs: settings.timeoutMs } : {}) }),
  billingWebhooks: ({ credentials }) => {
    // Without a signing secret no delivery can be verified: every webhook is refused (401).
    const secret = credentials.webhookSecret ?? '';
    return secret ? stripeWebhooks({ secret }) : { verify: () => stripeWebhooks({ secret: 'whsec_unset' }).verify('', undefined) };
  },
};

const adapters = new Map<string, AdapterDefinition>([['stripe', stripe]]);

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
