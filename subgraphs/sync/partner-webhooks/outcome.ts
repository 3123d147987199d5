import { backoffMs } from '../engine/errors';
import type { PartnerWebhookSettings } from './settings';

/** What one HTTP attempt came to: an answer with a status, or no answer (timeout, refused address, lost connection). */
export type AttemptResult =
  | { kind: 'answered'; status: number; retryAfterMs: number | undefined }
  | { kind: 'no-answer'; error: string };

/** What happens to the delivery after an attempt. */
export type DeliveryOutcome =
  | { kind: 'delivered' }
  | { kind: 'retry'; delayMs: number; error: string }
  | { kind: 'give-up'; error: string };

/**
 * Any 2xx is delivered; everything else is retried with exponential backoff and jitter (the engine's `backoffMs`)
 * until `maxAttempts`. A receiver's Retry-After (on any status; 429 and 503 are the usual ones) is honoured: the next
 * attempt never comes sooner, and at most `retryMaxMs` later. Redirects are not followed: a 3xx is a failure, as the
 * Standard Webhooks spec recommends.
 */
export function deliveryOutcome(result: AttemptResult, attempt: number, maxAttempts: number, s: PartnerWebhookSettings, random = Math.random): DeliveryOutcome {
  if (result.kind === 'answered' && result.status >= 200 && result.status < 300) return { kind: 'delivered' };
  const error = result.kind === 'answered' ? `HTTP ${result.status}` : result.error;
  if (attempt >= maxAttempts) return { kind: 'give-up', error: `${error} (gave up after ${attempt} attempts)` };
  const retryAfter = result.kind === 'answered' && result.retryAfterMs !== undefined ? Math.min(result.retryAfterMs, s.retryMaxMs) : undefined;
  return { kind: 'retry', delayMs: backoffMs({ baseDelayMs: s.retryBaseMs, maxDelayMs: s.retryMaxMs }, attempt, retryAfter, random), error };
}
