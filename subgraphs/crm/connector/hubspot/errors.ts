import { AuthError, PermanentError, TransientError } from '../../../../lib/connectors/errors';

/** HubSpot's rolling window for the per-token limit: a 429 without Retry-After is over within it. */
const RATE_LIMIT_WINDOW_MS = 10_000;

interface HubSpotFailure {
  code: number;
  body: unknown;
  headers: Record<string, string>;
}

/** The SDK's ApiException (one class per generated API, so matched by shape rather than instanceof). */
function asFailure(err: unknown): HubSpotFailure | null {
  if (typeof err !== 'object' || err === null) return null;
  const { code, headers } = err as { code?: unknown; headers?: unknown };
  if (typeof code !== 'number' || typeof headers !== 'object' || headers === null) return null;
  return { code, body: (err as { body?: unknown }).body, headers: headers as Record<string, string> };
}

function describe(failure: HubSpotFailure): { category: string; message: string } {
  const body = typeof failure.body === 'string' ? safeJson(failure.body) : failure.body;
  const envelope = (typeof body === 'object' && body !== null ? body : {}) as { category?: unknown; message?: unknown };
  return {
    category: typeof envelope.category === 'string' ? envelope.category : `HTTP_${failure.code}`,
    message: typeof envelope.message === 'string' ? envelope.message : `HubSpot answered ${failure.code}`,
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/**
 * Maps what the SDK threw onto the engine's classes: 401/403 -> AuthError; 429 -> TransientError with HubSpot's
 * Retry-After, else the rest of its 10-second window (HubSpot sends no Retry-After on the ten-secondly limit, so
 * the whole window is the safe wait); 5xx and network failures -> TransientError; other 4xx -> PermanentError with
 * HubSpot's `category` as code.
 */
export function mapHubSpotError(err: unknown, operation: string): Error {
  if (err instanceof TransientError || err instanceof PermanentError) return err;
  const failure = asFailure(err);
  if (!failure) return new TransientError('HUBSPOT_UNREACHABLE', `${operation}: ${err instanceof Error ? err.message : String(err)}`);
  const { category, message } = describe(failure);
  const text = `${operation}: ${message}`;
  if (failure.code === 401 || failure.code === 403) return new AuthError(text, failure.code);
  if (failure.code === 429) {
    const header = (name: string) => failure.headers[name] ?? failure.headers[name.toLowerCase()];
    const retryAfterS = Number(header('retry-after'));
    const interval = Number(header('x-hubspot-ratelimit-interval-milliseconds'));
    const waitMs = Number.isFinite(retryAfterS) && retryAfterS > 0 ? retryAfterS * 1000 : Number.isFinite(interval) && interval > 0 ? interval : RATE_LIMIT_WINDOW_MS;
    return new TransientError('RATE_LIMITED', text, waitMs);
  }
  if (failure.code >= 500 || failure.code === 0) return new TransientError(category, text);
  return new PermanentError(category, text);
}
