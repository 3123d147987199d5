import { AuthError, PermanentError } from '../../../../lib/connectors/errors';
import type { AccessToken, OAuthTokenStore, TokenAnswer } from '../../../../lib/connectors/oauth-tokens';

/** Refresh this long before HubSpot's stated expiry, so a call never leaves with a token about to die. */
const EARLY_MS = 60_000;

/**
 * Access tokens of an OAuth app install (`POST /oauth/v1/token`, grant `refresh_token`). HubSpot access tokens live
 * 30 minutes: one is kept until shortly before its expiry, and a 401 (`invalidate`) makes the next call renew.
 * Callers of one process share one renewal; the store serializes renewals across processes and keeps the refresh
 * token HubSpot answers with (rotated or not) before the new access token is used.
 */
export class HubSpotTokenSource {
  private current: Promise<AccessToken> | null = null;
  private rejected: string | null = null;

  constructor(
    private readonly store: OAuthTokenStore,
    private readonly exchange: (refreshToken: string) => Promise<TokenAnswer>,
    private readonly now: () => number = Date.now,
  ) {}

  async accessToken(): Promise<string> {
    const held = this.current;
    const value = held ? await held.catch(() => null) : null;
    if (value && value.token !== this.rejected && value.expiresAt - EARLY_MS > this.now()) return value.token;
    // Callers that found the same stale token share one renewal.
    if (this.current === held) this.current = this.renew();
    return (await this.current!).token;
  }

  /** HubSpot refused `token` (401): it is not used again, and the next call renews (unless another call already did). */
  invalidate(token: string): void {
    this.rejected = token;
  }

  private renew(): Promise<AccessToken> {
    const pending = this.store.renew({
      rejected: this.rejected,
      minValidMs: EARLY_MS,
      exchange: async (refreshToken) => {
        try {
          return await this.exchange(refreshToken);
        } catch (err) {
          // A refused refresh token or client secret (400 BAD_REFRESH_TOKEN) is the connection's credentials failing.
          throw err instanceof PermanentError && !(err instanceof AuthError) ? new AuthError(`HubSpot refused the refresh token: ${err.message}`, 400) : err;
        }
      },
    });
    // A failed renewal is not kept: the next call tries again.
    pending.catch(() => {
      if (this.current === pending) this.current = null;
    });
    return pending;
  }
}
