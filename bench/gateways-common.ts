/**
 * The vocabulary of bench/gateways.ts shared with its child processes (bench/gateways-subgraphs.ts,
 * bench/gateways-server.ts): the gateway kinds, the ready payloads, and the claims header, signed per request body for
 * the client's own principal, that lets the stock gateways talk to our subgraphs. The harness itself (children, load,
 * tables) is bench/support.ts, the child side of its protocol bench/host.ts.
 */
import { z } from 'zod';
import { type ForwardedRequest, claimsSigner } from '../lib/auth/forwarded';
import { bearerToken, tokenVerifier } from '../lib/auth/tokens';
import type { JwtSettings } from '../lib/auth/tokens';

/** The tenant whose data the single-query load reads; the mix reads both. */
export const BENCH_TENANT = 'acme';
export const BENCH_TENANTS = ['acme', 'globex'] as const;

export const GATEWAY_KINDS = ['ours', 'ours-cache', 'stock', 'hive', 'hive-nodedup', 'hive-router', 'hive-router-nodedup'] as const;
export type GatewayKind = (typeof GATEWAY_KINDS)[number];

export const subgraphUrls = z.object({ crm: z.string().url(), erp: z.string().url(), billing: z.string().url(), sync: z.string().url() });
export type SubgraphUrls = z.infer<typeof subgraphUrls>;

export const subgraphsReady = z.object({ pid: z.number().int(), urls: subgraphUrls, seedMs: z.number() });
/** A bare HTTP pass-through to billing (no GraphQL at all): the floor of the overhead measurement. */
export const PASSTHROUGH = 'passthrough';
export const SERVER_KINDS = [...GATEWAY_KINDS, PASSTHROUGH] as const;
export type ServerKind = (typeof SERVER_KINDS)[number];

export const gatewayReady = z.object({ pid: z.number().int(), url: z.string().url(), kind: z.enum(SERVER_KINDS), startMs: z.number() });

/**
 * The `x-gateway-claims` a stock gateway sends: the client's bearer token verified (cached per token, as ours does) and
 * its principal signed with our claimsSigner (and so our config's internal secret) for each subgraph request body, as
 * our gateway does (the header is bound to the body). Reads with the same principal and body reuse a header for a few
 * seconds. A request without a valid token gets no header (the subgraph then refuses it).
 */
export function benchClaimsSigner(secret: string, jwt: JwtSettings): (authorization: string | undefined, body: unknown) => Promise<string | undefined> {
  const sign = claimsSigner(secret);
  const verify = tokenVerifier(jwt);
  return async (authorization, body) => {
    let token: string;
    try {
      token = bearerToken(authorization);
    } catch {
      return undefined;
    }
    const principal = verify.peek(token) ?? (await verify(token).catch(() => undefined));
    if (!principal) return undefined;
    return sign(principal, typeof body === 'string' ? (JSON.parse(body) as ForwardedRequest) : ((body ?? {}) as ForwardedRequest));
  };
}
