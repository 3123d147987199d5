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
  /** Where Stripe is: defaults to api.stripe.com over HTTPS; the fake passes its own host, port and `http`. */
  host?: string;
  port?: number;
  protocol?: 'http' | 'https';
  /** The SDK's own per-request timeout, a backstop behind the connection's Outbound timeout. @default 30000 */
  timeoutMs?: number;
}

/** The official SDK, with retries off: the sync engine and the connection's Outbound own retrying. */
export function stripeClient(options: StripeClientOptions): Stripe {
  return new Stripe(options.secretKey, {
    apiVersion: STRIPE_API_VERSION,
    maxNetworkRetries: 0,
    timeout: options.timeoutMs ?? 30_000,
    telemetry: false,
    ...(options.host ? { host: options.host } : {}),
    ...(options.port ? { port: options.port } : {}),
    ...(options.protocol ? { protocol: options.protocol } : {}),
    appInfo: { name: 'sor-gateway' },
  });
}
