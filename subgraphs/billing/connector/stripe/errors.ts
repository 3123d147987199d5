import Stripe from 'stripe';
import { AuthError, PermanentError, TransientError } from '../../../../lib/connectors/errors';
import { retryAfterMs } from '../../../../lib/http/retry-after';

/**
 * Stripe's failures as the sync engine decides on them: refused credentials are AuthError (the connection is marked,
 * the job replayable after rotation); rate limits, 5xx, 409 lock conflicts, timeouts and lost connections are
 * transient (retried with our backoff, after Stripe's Retry-After when it sent one); anything else the request
 * itself is wrong about is permanent, with Stripe's error code (`resource_missing`, `idempotency_error`, ...).
 * Errors that are not Stripe's (a bug of ours) pass through unchanged.
 */
export function mapStripeError(err: unknown): unknown {
  if (!(err instanceof Stripe.errors.StripeError)) return err;
  const status = err.statusCode;
  const message = `Stripe: ${err.message}`;
  if (err instanceof Stripe.errors.StripeAuthenticationError || err instanceof Stripe.errors.StripePermissionError || status === 401 || status === 403) {
    return new AuthError(message, status);
  }
  if (err instanceof Stripe.errors.StripeRateLimitError || status === 429) {
    return new TransientError('RATE_LIMITED', message, retryAfterMs(err.headers?.['retry-after']));
  }
  // 409: the same idempotency key is still running, or a lock conflict on the object: both clear up.
  if (err instanceof Stripe.errors.StripeConnectionError || status === undefined || status === 409 || status >= 500) {
    return new TransientError(status === undefined ? 'VENDOR_UNREACHABLE' : 'VENDOR_UNAVAILABLE', message, retryAfterMs(err.headers?.['retry-after']));
  }
  return new PermanentError(err.code ?? err.rawType ?? 'invalid_request_error', message);
}

