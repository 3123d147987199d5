import Stripe from 'stripe';

/**
 * The Stripe API version this adapter is written against, sent as `Stripe-Version` on every request so the
 * account's default version (set in Stripe's dashboard) cannot change the shapes we read. Upgrading the SDK
 * changes its types: moving this pin is a deliberate change, checked by the compiler and the contract suite.
 */
export const STRIPE_API_VERSION = '2026-10-28.endive' satisfies Stripe.LatestApiVersion;

export interface StripeClientOptions {
  /** A secret key (`sk_test_...`/`sk_live_...`) or a restricted key (`rk_...`) of the tenant's account. */
  secretKey: string;
  /** Where Stripe's API is, e.g. `http://127.0.0.1:12111` for the fake. @default https://api.stripe.com */
  apiBase?: string;
  /** The SDK's own per-request timeout, a backstop behind the connection's Outbound timeout. @default 30000 */
  timeoutMs?: number;
}

/** Stripe's published rate limit for a key's mode: 100 operations/s live, 25 in test mode (and for any other key). */
export function stripeRequestsPerSecond(secretKey: string): number {
  return /^(sk|rk)_live_/.test(secretKey) ? 100 : 25;
}

/** The official SDK, with retries off: the sync engine and the connection's Outbound own retrying. */
export function stripeClient(options: StripeClientOptions): Stripe {
  return new Stripe(options.secretKey, {
    apiVersion: STRIPE_API_VERSION,
    maxNetworkRetries: 0,
    timeout: options.timeoutMs ?? 30_000,
    telemetry: false,
    ...(options.apiBase ? endpoint(options.apiBase) : {}),
    appInfo: { name: 'sor-gateway' },
  });
}

/** The SDK's host/port/protocol options for a base URL (the SDK takes no URL). */
function endpoint(apiBase: string): { host: string; port: number; protocol: 'http' | 'https' } {
  const url = new URL(apiBase);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`Stripe apiBase must be http(s), got ${url.protocol}`);
  const protocol = url.protocol === 'http:' ? 'http' : 'https';
  return { host: url.hostname, port: url.port ? Number(url.port) : protocol === 'http' ? 80 : 443, protocol };
}
