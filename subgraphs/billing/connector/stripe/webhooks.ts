import Stripe from 'stripe';
import { type BillingWebhooks, type RemoteObjectKind, WebhookVerificationError } from '../remote-port';

export interface StripeWebhookOptions {
  /** The endpoint's signing secret (`whsec_...`), from the Stripe dashboard or `POST /v1/webhook_endpoints`. */
  secret: string;
  /** How old a signature's timestamp may be, in seconds (replay protection). @default 300 (Stripe's default) */
  toleranceSeconds?: number;
}

const KINDS: Record<string, RemoteObjectKind> = { customer: 'customer', subscription: 'subscription', invoice: 'invoice', price: 'price', product: 'product' };

const idOf = (value: unknown): string =>
  typeof value === 'string' ? value : value && typeof value === 'object' && 'id' in value && typeof value.id === 'string' ? value.id : '';

/**
 * Which record an event is about. A payment of an invoice (one of several when it is paid in parts) is news about
 * its invoice, which the job re-reads with all its payments.
 */
function subjectOf(object: object): { kind: RemoteObjectKind; remoteId: string } {
  const type = 'object' in object && typeof object.object === 'string' ? object.object : '';
  if (type === 'invoice_payment' && 'invoice' in object) return { kind: 'invoice', remoteId: idOf(object.invoice) };
  return { kind: KINDS[type] ?? 'other', remoteId: 'id' in object ? idOf(object.id) : '' };
}

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
      const { kind, remoteId } = subjectOf(event.data.object);
      return { eventId: event.id, type: event.type, objectKind: kind, remoteId, created: new Date(event.created * 1000).toISOString() };
    },
  };
}
