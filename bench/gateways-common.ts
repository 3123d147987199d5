/**
 * Pieces shared by bench/gateways.ts (the harness) and its child processes (bench/gateways-subgraphs.ts,
 * bench/gateways-server.ts): the ready-line protocol, children stopped through their stdin, and the
 * claims header, signed per request body, that lets the stock gateways talk to our subgraphs. The parent starts
 * them with bench/support.ts startChild (`stopBy: 'stdin'`).
 */
import path from 'node:path';
import { z } from 'zod';
import { type ForwardedRequest, claimsSigner } from '../lib/auth/forwarded';
import type { Principal } from '../lib/auth/principal';

export const ROOT = path.resolve(__dirname, '..');

/** The tenant whose data every benchmark query reads. */
export const BENCH_TENANT = 'acme';
export const BENCH_TENANTS = ['acme', 'globex'] as const;

/** Every child prints exactly one stdout line `{"gatewaysBenchReady": …}` once it serves. */
export const READY_KEY = 'gatewaysBenchReady';

export const GATEWAY_KINDS = ['ours', 'ours-cache', 'stock', 'hive', 'hive-nodedup'] as const;
export type GatewayKind = (typeof GATEWAY_KINDS)[number];

export const subgraphUrls = z.object({ crm: z.string().url(), erp: z.string().url(), billing: z.string().url(), sync: z.string().url() });
export type SubgraphUrls = z.infer<typeof subgraphUrls>;

export const subgraphsReady = z.object({ pid: z.number().int(), urls: subgraphUrls, seedMs: z.number() });
/** A bare HTTP pass-through to billing (no GraphQL at all): the floor of the overhead measurement. */
export const PASSTHROUGH = 'passthrough';
export const SERVER_KINDS = [...GATEWAY_KINDS, PASSTHROUGH] as const;
export type ServerKind = (typeof SERVER_KINDS)[number];

export const gatewayReady = z.object({ pid: z.number().int(), url: z.string().url(), kind: z.enum(SERVER_KINDS), startMs: z.number() });

// ---------------------------------------------------------------------------------------------------------------
// Child side

/** Prints the ready line. Everything else a child prints goes to stderr or is forwarded there by the parent. */
export function announceReady(payload: unknown): void {
  process.stdout.write(`${JSON.stringify({ [READY_KEY]: payload })}\n`);
}

/**
 * Stops the child when its stdin closes (the parent ends it, or the parent died): runs `stop`, then exits, with a
 * hard exit after `graceMs`. Exiting through process.exit lets `node --cpu-prof` write its profile.
 */
export function stopWhenStdinEnds(stop: () => Promise<void>, graceMs = 8000): void {
  let stopping = false;
  const finish = () => {
    if (stopping) return;
    stopping = true;
    const hard = setTimeout(() => process.exit(2), graceMs);
    hard.unref();
    stop()
      .then(() => process.exit(0))
      .catch((err: unknown) => {
        process.stderr.write(`stop failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
        process.exit(1);
      });
  };
  process.stdin.on('data', () => undefined);
  process.stdin.on('end', finish);
  process.stdin.on('close', finish);
  process.stdin.resume();
}

/**
 * The `x-gateway-claims` a stock gateway sends for the bench principal: signed with our claimsSigner (and so our
 * config's internal secret) for each subgraph request body, as our gateway does (the header is bound to the body).
 * Reads with the same body reuse a header for a few seconds, so the stock gateways pay about one HMAC per body.
 */
export function benchClaimsSigner(secret: string, principal: Principal): (body: unknown) => Promise<string> {
  const sign = claimsSigner(secret);
  return (body) => sign(principal, typeof body === 'string' ? (JSON.parse(body) as ForwardedRequest) : ((body ?? {}) as ForwardedRequest));
}

// ---------------------------------------------------------------------------------------------------------------
