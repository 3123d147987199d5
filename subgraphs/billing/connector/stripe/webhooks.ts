import Stripe from 'stripe';
import { type BillingWebhooks, type RemoteObjectKind, WebhookVerificationError } from '../remote-port';

export interface StripeWebhookOptions {
  /** The endpoint's signing secret (`whsec_...`), from the Stripe dashboard or `POST /v1/webhook_endpoints`. */
  secret: string;
  /** How old a signature's timestamp may be, in seconds (replay protection). @default 300 (Stripe's default) */
  toleranceSeconds?: number;
}

const KINDS: Record<string, RemoteObjectKind> = { customer: 'customer', subscription: 'subscription', invoice: 'invoice', price: 'price', product: 'product' };

/** Webhook verification with the SDK's own `constructEvent` (HMAC-SHA256 over the raw bytes, timestamp tolerance). */
export function stripeWebhooks(options: StripeWebhookOptions): BillingWebhooks {
  const tolerance = options.toleranceSeconds ?? Stripe.webhooks.DEFAULT_TOLERANCE;
  return {
    verify(rawBody, signatureHeader) {
      if (!signatureHeader) throw new WebhookVerificationError('Missing Stripe-Signature header');
      let event: Stripe.Event;
      try {
        event = Stripe.webhooks.constructEvent(rawBody, signatureHeader, options.secret, tolerance);
      } catch (err) {
        throw new WebhookVerificationError(err instanceof Error ? err.message : 'Invalid Stripe-Signature');
      }
      const object: object = event.data.object;
      const kind = 'object' in object && typeof object.object === 'string' ? (KINDS[object.object] ?? 'other') : 'other';
      const remoteId = 'id' in object && typeof object.id === 'string' ? object.id : '';
      return { eventId: event.id, type: event.type, objectKind: kind, remoteId, created: new Date(event.created * 1000).toISOString() };
    },
  };
}
