import { SignJWT, jwtVerify } from 'jose';
import { unauthenticated } from '../errors';
import { type Principal, principalFromClaims, tokenClaims } from './principal';

/** Header carrying the gateway-signed claims to subgraphs. */
export const FORWARDED_CLAIMS_HEADER = 'x-gateway-claims';
const AUDIENCE = 'sor-subgraphs';
const ISSUER = 'sor-gateway';
/** Short-lived: a captured header is useless after this. */
const TTL_SECONDS = 60;

/**
 * The gateway signs the verified principal per request (cached per principal for part of the TTL so the hot path
 * stays cheap); subgraphs accept nothing else.
 */
export function claimsSigner(secret: string): (principal: Principal) => Promise<string> {
  const key = new TextEncoder().encode(secret);
  const cache = new Map<string, { header: string; refreshAt: number }>();
  return async (p) => {
    const now = Math.floor(Date.now() / 1000);
    const cacheKey = `${p.tenant}|${p.sub}|${p.kind}|${p.exp}|${[...p.scopes].join(' ')}`;
    const hit = cache.get(cacheKey);
    if (hit && hit.refreshAt > now) return hit.header;
    const exp = Math.min(now + TTL_SECONDS, p.exp);
    const header = await new SignJWT({ tenant: p.tenant, scope: [...p.scopes].join(' '), kind: p.kind, cexp: p.exp })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(p.sub)
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt(now)
      .setExpirationTime(exp)
      .sign(key);
    if (cache.size > 10_000) cache.clear();
    cache.set(cacheKey, { header, refreshAt: now + TTL_SECONDS / 2 });
    return header;
  };
}

/** Subgraph side: verifies the gateway's signature and expiry. Any failure is UNAUTHENTICATED (HTTP 401). */
export function claimsVerifier(secret: string): (header: string | undefined) => Promise<Principal> {
  const key = new TextEncoder().encode(secret);
  const cache = new Map<string, { principal: Principal; exp: number }>();
  return async (header) => {
    if (!header) throw unauthenticated('Subgraphs only accept requests signed by the gateway');
    const now = Math.floor(Date.now() / 1000);
    const hit = cache.get(header);
    if (hit && hit.exp > now) return hit.principal;
    try {
      const { payload } = await jwtVerify(header, key, { algorithms: ['HS256'], issuer: ISSUER, audience: AUDIENCE });
      const claims = tokenClaims.parse({ ...payload, exp: payload['cexp'] });
      const principal = principalFromClaims(claims);
      if (cache.size > 10_000) cache.clear();
      cache.set(header, { principal, exp: payload.exp ?? now });
      return principal;
    } catch {
      throw unauthenticated('Gateway signature is missing, forged or expired');
    }
  };
}
