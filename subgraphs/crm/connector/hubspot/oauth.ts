import { AuthError, PermanentError } from '../../../../lib/connectors/errors';

/** Refresh this long before HubSpot's stated expiry, so a call never leaves with a token about to die. */
const EARLY_MS = 60_000;

/** What HubSpot's token endpoint answers (the SDK's `TokenResponseIF`). */
export interface TokenAnswer {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
}

/**
 * Access tokens of an OAuth app install, from its refresh token (`POST /oauth/v1/token`, grant `refresh_token`).
 * HubSpot access tokens live 30 minutes: one is kept until shortly before its expiry, and `invalidate` forces the
 * next call to refresh (after a 401). When HubSpot answers with a different refresh token, `onRotated` stores it
 * before the new access token is used, so a restart does not come back with a dead one.
 */
export class HubSpotTokenSource {
  private current: Promise<{ token: string; expiresAt: number }> | null = null;

  constructor(
    private refreshToken: string,
    private readonly exchange: (refreshToken: string) => Promise<TokenAnswer>,
    private readonly onRotated: ((refreshToken: string) => Promise<void>) | undefined,
    private readonly now: () => number = Date.now,
  ) {}

  async accessToken(): Promise<string> {
    const held = this.current;
    const value = held ? await held.catch(() => null) : null;
    if (value && value.expiresAt - EARLY_MS > this.now()) return value.token;
    // Callers that found the same stale token share one refresh.
    if (this.current === held) this.current = this.refresh();
    return (await this.current!).token;
  }

  invalidate(): void {
    this.current = null;
  }

  private refresh(): Promise<{ token: string; expiresAt: number }> {
    const pending = (async () => {
      let answer: TokenAnswer;
      try {
        answer = await this.exchange(this.refreshToken);
      } catch (err) {
        // A refused refresh token or client secret (400 BAD_REFRESH_TOKEN) is the connection's credentials failing.
        throw err instanceof PermanentError && !(err instanceof AuthError) ? new AuthError(`HubSpot refused the refresh token: ${err.message}`, 400) : err;
      }
      if (answer.refreshToken && answer.refreshToken !== this.refreshToken) {
        await this.onRotated?.(answer.refreshToken);
        this.refreshToken = answer.refreshToken;
      }
      return { token: answer.accessToken, expiresAt: this.now() + answer.expiresIn * 1000 };
    })();
    // A failed refresh is not kept: the next call tries again.
    pending.catch(() => {
      if (this.current === pending) this.current = null;
    });
    return pending;
  }
}
