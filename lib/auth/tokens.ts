import { type JWTVerifyGetKey, SignJWT, createRemoteJWKSet, errors, jwtVerify } from 'jose';
import { hmacKey } from './hmac-key';
import { unauthenticated } from '../errors';
import { type Principal, type TokenKind, principalFromClaims, tokenClaims } from './principal';

export interface JwtSettings {
  secret: string;
  issuer: string;
  audience: string;
  /** A real identity provider's key set (RS256/ES256). When set, tokens are verified against it, not the secret. */
  jwksUrl?: string;
  /** Minimum time between key set fetches (an unknown `kid` cannot make us hammer the provider). */
  jwksCooldownMs?: number;
}

export interface MintOptions {
  sub: string;
  tenant: string;
  kind: TokenKind;
  scopes: readonly string[];
  /** Lifetime in seconds. */
  ttlSeconds: number;
}

/** Mints an HS256 client token (development CLI, tests). */
export async function mintToken(settings: JwtSettings, opts: MintOptions): Promise<string> {
  const key = hmacKey(settings.secret);
  return new SignJWT({ tenant: opts.tenant, scope: opts.scopes.join(' '), kind: opts.kind })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(opts.sub)
    .setIssuer(settings.issuer)
    .setAudience(settings.audience)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + opts.ttlSeconds)
    .sign(key);
}

/**
 * Verifies a client bearer token (signature, `exp`, `nbf`, `iss`, `aud`); every failure is UNAUTHENTICATED with a
 * reason that leaks nothing. With a JWKS URL, jose caches the key set, refetches on an unknown `kid` (key rotation)
 * and rate-limits refetches; otherwise the HS256 secret is used (local development and tests).
 */
export interface TokenVerifier {
  (token: string): Promise<Principal>;
  /** The principal of a token verified before and not expired, without verifying again; undefined otherwise. */
  peek(token: string): Principal | undefined;
}

export function tokenVerifier(settings: JwtSettings): TokenVerifier {
  const secret = hmacKey(settings.secret);
  const jwks: JWTVerifyGetKey | null = settings.jwksUrl ? createRemoteJWKSet(new URL(settings.jwksUrl), { cooldownDuration: settings.jwksCooldownMs ?? 5000, cacheMaxAge: 600_000 }) : null;
  const verify = (token: string) =>
    jwks
      ? jwtVerify(token, jwks, { algorithms: ['RS256', 'ES256'], issuer: settings.issuer, audience: settings.audience, requiredClaims: ['exp', 'sub'] })
      : jwtVerify(token, secret, { algorithms: ['HS256'], issuer: settings.issuer, audience: settings.audience, requiredClaims: ['exp', 'sub'] });
  // Verified-token cache: the same bearer token arrives on every request of a session, and signature checks
  // (RS256 especially) are the costliest step of the hot path. Entries end with the token's own `exp`.
  const verified = new Map<string, Principal>();
  const peek = (token: string) => {
    const hit = verified.get(token);
    return hit && hit.exp * 1000 > Date.now() ? hit : undefined;
  };
  const check = async (token: string): Promise<Principal> => {
    const hit = verified.get(token);
    if (hit) {
      if (hit.exp * 1000 > Date.now()) return hit;
      verified.delete(token);
    }
    try {
      const { payload } = await verify(token);
      const claims = tokenClaims.safeParse(payload);
      if (!claims.success) throw unauthenticated('Token claims are invalid');
      const principal = principalFromClaims(claims.data);
      if (verified.size >= 10_000) verified.clear();
      verified.set(token, principal);
      return principal;
    } catch (err) {
      if (err instanceof errors.JWTExpired) throw unauthenticated('Token has expired');
      if (err instanceof errors.JOSEError) throw unauthenticated('Token is invalid');
      throw err;
    }
  };
  return Object.assign(check, { peek });
}

/** Extracts the token from `Authorization: Bearer <token>`. */
export function bearerToken(header: string | undefined): string {
  if (!header) throw unauthenticated('Missing Authorization: Bearer token');
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match?.[1]) throw unauthenticated('Authorization header must be "Bearer <token>"');
  return match[1];
}
