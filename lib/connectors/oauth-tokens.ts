/**
 * OAuth tokens of a vendor connection (HubSpot app installs): the port between an adapter, which knows the vendor's
 * token endpoint, and the place the tokens are kept. The connection layer keeps them in the connection's sealed
 * credentials, so every process shares one refresh token and one current access token; `memoryTokenStore` keeps them
 * in this process only (adapter tests, scripts).
 */

/** What a token endpoint answers to a refresh (HubSpot: `POST /oauth/v1/token`, grant `refresh_token`). */
export interface TokenAnswer {
  accessToken: string;
  /** The refresh token to use next time: the same one, or a new one when the vendor rotates them. */
  refreshToken: string;
  /** Seconds. */
  expiresIn: number;
}

/** An access token and when it stops working (ms since the epoch). */
export interface AccessToken {
  token: string;
  expiresAt: number;
}

export interface RenewRequest {
  /** The access token the vendor just refused (401), if that is why: never handed out again. */
  rejected: string | null;
  /** A stored access token is reused only while it has this long to live. */
  minValidMs: number;
  /** Trades the stored refresh token for new tokens at the vendor. */
  exchange(refreshToken: string): Promise<TokenAnswer>;
}

export interface OAuthTokenStore {
  /**
   * A usable access token: the stored one when it is neither expiring nor `rejected`, else one exchange of the stored
   * refresh token, whose answer (a rotated refresh token included) is stored before the access token is handed out.
   * Refreshes of one connection are serialized wherever they run, so concurrent callers make one exchange.
   */
  renew(request: RenewRequest): Promise<AccessToken>;
}

/** Tokens kept in this process only; a rotated refresh token is also handed to `onRotated`. */
export function memoryTokenStore(refreshToken: string, onRotated?: (refreshToken: string) => Promise<void>, now: () => number = Date.now): OAuthTokenStore {
  let current = refreshToken;
  let held: AccessToken | null = null;
  let queue: Promise<unknown> = Promise.resolve();
  return {
    renew({ rejected, minValidMs, exchange }) {
      const turn = queue.then(async () => {
        if (held && held.token !== rejected && held.expiresAt - minValidMs > now()) return held;
        const answer = await exchange(current);
        if (answer.refreshToken && answer.refreshToken !== current) {
          await onRotated?.(answer.refreshToken);
          current = answer.refreshToken;
        }
        held = { token: answer.accessToken, expiresAt: now() + answer.expiresIn * 1000 };
        return held;
      });
      queue = turn.catch(() => undefined);
      return turn;
    },
  };
}
