import { createHash, randomUUID } from 'node:crypto';
import { SignJWT, jwtVerify } from 'jose';
import { unauthenticated } from '../errors';
import { hmacKey } from './hmac-key';
import { type Principal, principalFromClaims, tokenClaims } from './principal';
import { type ReplayGuard, localReplayGuard } from './replay-guard';

/** Header carrying the gateway-signed claims to subgraphs. */
export const FORWARDED_CLAIMS_HEADER = 'x-gateway-claims';
const AUDIENCE = 'sor-subgraphs';
const ISSUER = 'sor-gateway';
/** Short-lived, and bound to one request body: a captured header authorizes that same request for seconds, nothing else. */
const TTL_SECONDS = 10;
/** Gateway and subgraph clocks may disagree by this much. */
const CLOCK_TOLERANCE_SECONDS = 2;
const MAX_ENTRIES = 10_000;

/** What a subgraph executes: the digest covers exactly this, so no other operation or variables fit a header. */
export interface ForwardedRequest {
  query?: unknown;
  operationName?: unknown;
  variables?: unknown;
}

/**
 * The request's digest as both sides compute it: the gateway from the request it is about to send, the subgraph from
 * the body it parsed. JSON round trips keep key order and number spelling, so both get the same string.
 */
export function requestDigest(r: ForwardedRequest): string {
  return digestOf(JSON.stringify([r.query ?? null, r.operationName ?? null, r.variables ?? null]));
}

/**
 * The digest of the text `JSON.stringify([query ?? null, operationName ?? null, variables ?? null])`, for a caller
 * that already holds that text (the gateway's data source builds it from the pieces it serializes for the body).
 */
export function digestOf(text: string): string {
  return createHash('sha256').update(text).digest('base64url');
}

/** Writes must run once: their headers are single-use, so a replayed mutation is refused even within the TTL. */
const isWrite = (r: ForwardedRequest) => typeof r.query === 'string' && /^\s*mutation\b/.test(r.query);

/**
 * The gateway signs the verified principal and the request's digest per subgraph request (`digest`: the request's
 * digest when the caller has it already, see digestOf). Reads with the same
 * principal and body reuse a header for part of the TTL (identical reads in flight then still share one upstream
 * request, see gateway/subgraph-fetcher.ts); writes always get a fresh, single-use one.
 */
export function claimsSigner(secret: string): (principal: Principal, request: ForwardedRequest, digest?: string) => Promise<string> {
  const key = hmacKey(secret);
  const cache = new Map<string, { header: string; refreshAt: number }>();
  return async (p, request, digest = requestDigest(request)) => {
    const now = Math.floor(Date.now() / 1000);
    const once = isWrite(request);
    const scope = [...p.scopes].join(' ');
    const cacheKey = `${p.tenant}|${p.sub}|${p.kind}|${p.exp}|${scope}|${digest}`;
    const hit = once ? undefined : cache.get(cacheKey);
    if (hit && hit.refreshAt > now) return hit.header;
    const header = await new SignJWT({ tenant: p.tenant, scope, kind: p.kind, cexp: p.exp, bh: digest, ...(once ? { once } : {}) })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(p.sub)
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt(now)
      .setExpirationTime(Math.min(now + TTL_SECONDS, p.exp))
      .setJti(randomUUID())
      .sign(key);
    if (!once) {
      if (cache.size > MAX_ENTRIES) cache.clear();
      cache.set(cacheKey, { header, refreshAt: now + TTL_SECONDS / 2 });
    }
    return header;
  };
}

/**
 * Subgraph side: verifies the gateway's signature, expiry and that the header was signed for this very request (and,
 * for a write, that `replays` has not seen its id: shared by every instance through Redis when the subgraph has it,
 * see replay-guard.ts). Any failure is UNAUTHENTICATED (HTTP 401).
 */
export function claimsVerifier(secret: string, replays: ReplayGuard = localReplayGuard()): (header: string | undefined, request: ForwardedRequest) => Promise<Principal> {
  const key = hmacKey(secret);
  const cache = new Map<string, { principal: Principal; digest: string; exp: number }>();
  return async (header, request) => {
    if (!header) throw unauthenticated('Subgraphs only accept requests signed by the gateway');
    const now = Math.floor(Date.now() / 1000);
    const digest = requestDigest(request);
    const hit = cache.get(header);
    if (hit && hit.exp + CLOCK_TOLERANCE_SECONDS > now) {
      if (hit.digest !== digest) throw unauthenticated('Gateway signature does not cover this request');
      return hit.principal;
    }
    let principal: Principal;
    let verified: { exp: number; jti: string | undefined; once: boolean; digest: unknown };
    try {
      const { payload } = await jwtVerify(header, key, { algorithms: ['HS256'], issuer: ISSUER, audience: AUDIENCE, clockTolerance: CLOCK_TOLERANCE_SECONDS });
      principal = principalFromClaims(tokenClaims.parse({ ...payload, exp: payload['cexp'] }));
      verified = { exp: payload.exp ?? now, jti: payload.jti, once: payload['once'] === true, digest: payload['bh'] };
    } catch {
      throw unauthenticated('Gateway signature is missing, forged or expired');
    }
    if (verified.digest !== digest) throw unauthenticated('Gateway signature does not cover this request');
    if (verified.once) {
      // Kept until the header can no longer pass the expiry check (its exp plus the clock tolerance).
      if (!verified.jti || !(await replays.claim(verified.jti, verified.exp + CLOCK_TOLERANCE_SECONDS))) throw unauthenticated('Gateway signature was already used');
      return principal;
    }
    if (cache.size > MAX_ENTRIES) cache.clear();
    cache.set(header, { principal, digest, exp: verified.exp });
    return principal;
  };
}
