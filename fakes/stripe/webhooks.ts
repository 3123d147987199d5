import { createHmac } from 'node:crypto';
import type Stripe from 'stripe';
import { newId } from './wire';

/**
 * Stripe's webhook signature: `Stripe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<payload>" keyed with
 * the endpoint secret>`. The payload is the exact JSON bytes sent.
 */
export function stripeSignature(payload: string, secret: string, timestamp = Math.floor(Date.now() / 1000)): string {
  const v1 = createHmac('sha256', secret).update(`${timestamp}.${payload}`, 'utf8').digest('hex');
  return `t=${timestamp},v1=${v1}`;
}

export interface WebhookEndpoint {
  id: string;
  account: string;
  url: string;
  /** `whsec_...`: what the receiving connection verifies with. */
  secret: string;
}

export interface WebhookDelivery {
  eventId: string;
  type: string;
  endpoint: string;
  attempt: number;
  /** HTTP status of the receiver, or 0 when it could not be reached. */
  status: number;
  at: number;
}

/**
 * Sends each account's events to its endpoints, one delivery at a time per endpoint in the order the events happened,
 * retrying a failed delivery a few times (Stripe retries for days; a fake in tests must settle). `hold()` queues
 * events without sending so a test can `release()` them in another order, as Stripe's ordering is not guaranteed.
 */
export class WebhookSender {
  readonly deliveries: WebhookDelivery[] = [];
  private readonly endpoints: WebhookEndpoint[] = [];
  private held: { account: string; event: Stripe.Event }[] | null = null;
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly options: { retries: number; retryDelayMs: number; timeoutMs: number }) {}

  addEndpoint(account: string, url: string, secret = newId('whsec')): WebhookEndpoint {
    const endpoint = { id: newId('we'), account, url, secret };
    this.endpoints.push(endpoint);
    return endpoint;
  }

  /** Called by the stores for every event. */
  enqueue(account: string, event: Stripe.Event): void {
    if (this.held) {
      this.held.push({ account, event });
      return;
    }
    this.schedule(account, event);
  }

  /** Sends the event again (Stripe delivers at least once; duplicates happen). */
  resend(account: string, event: Stripe.Event): void {
    this.schedule(account, event);
  }

  hold(): void {
    this.held ??= [];
  }

  /** Sends the held events, in `order` (default: as they happened), and resumes sending at once. */
  release(order: <T extends { event: Stripe.Event }>(held: T[]) => T[] = (h) => h): void {
    const held = this.held ?? [];
    this.held = null;
    for (const { account, event } of order(held)) this.schedule(account, event);
  }

  /** Resolves when every delivery queued so far has finished (successfully or out of retries). */
  settled(): Promise<void> {
    return this.chain;
  }

  private schedule(account: string, event: Stripe.Event): void {
    for (const endpoint of this.endpoints.filter((e) => e.account === account)) {
      this.chain = this.chain.then(() => this.deliver(endpoint, event));
    }
  }

  private async deliver(endpoint: WebhookEndpoint, event: Stripe.Event): Promise<void> {
    const payload = JSON.stringify(event, null, 2);
    for (let attempt = 1; attempt <= this.options.retries + 1; attempt++) {
      let status = 0;
      try {
        const res = await fetch(endpoint.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json; charset=utf-8', 'stripe-signature': stripeSignature(payload, endpoint.secret), 'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)' },
          body: payload,
          signal: AbortSignal.timeout(this.options.timeoutMs),
        });
        status = res.status;
        await res.arrayBuffer();
      } catch {
        status = 0;
      }
      this.deliveries.push({ eventId: event.id, type: event.type, endpoint: endpoint.id, attempt, status, at: Date.now() });
      if (status >= 200 && status < 300) return;
      await new Promise((r) => setTimeout(r, this.options.retryDelayMs * attempt).unref());
    }
  }
}
