/** The Stripe billing connector: the remote port's adapter, webhook verification, and the pinned API version. */
export { stripeBillingRemote, type StripeBillingOptions } from './adapter';
export { STRIPE_API_VERSION, type StripeClientOptions, stripeRequestsPerSecond } from './client';
export { mapStripeError } from './errors';
export { stripeWebhooks, type StripeWebhookOptions } from './webhooks';
