/**
 * Per-request signing and hashing of the gateway, before and after 2026-12-02 (issue 17 item 2), alternated in blocks
 * in one process (a busy machine slows both alike), CPU time of this process (process.cpuUsage) per call:
 *
 * - `claims header`: lib/auth/forwarded.ts claimsSigner, one `x-gateway-claims` per subgraph request for 300
 *   principals and bodies that do not repeat (as on the bench mix), against the same claims signed with jose's
 *   SignJWT with the raw secret as before (the signer now hands jose a KeyObject made once). Every header of the new signer is checked with the subgraphs' claimsVerifier first.
 * - `query hash`: `createHash('sha256')` of @apollo/utils.createhash as Apollo Server and @apollo/gateway call it twice
 *   per request, the package's own (`module.require("crypto")` per call) against gateway/node-createhash.ts.
 *
 *   npx tsx bench/hot-hashing.ts [--rounds 6] [--block 20000]
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { SignJWT } from 'jose';
import { parseCli } from '../lib/cli';
import { claimsSigner, claimsVerifier, requestDigest } from '../lib/auth/forwarded';
import type { Principal } from '../lib/auth/principal';
import { intOption, machineDescription, table } from './support';

const { values } = parseCli({
  usage: 'npx tsx bench/hot-hashing.ts [options]',
  summary: "CPU per claims header and per query hash, the gateway's signing and hashing before and after, alternated in one process.",
  options: {
    rounds: { type: 'string', default: '6', description: 'alternations of the two variants', placeholder: 'n' },
    block: { type: 'string', default: '20000', description: 'calls per variant per round', placeholder: 'n' },
  },
});
const rounds = intOption('rounds', values.rounds);
const block = intOption('block', values.block);

const SECRET = 'bench-internal-secret-of-at-least-32-bytes!';
const exp = Math.floor(Date.now() / 1000) + 3600;
const principals: Principal[] = Array.from({ length: 300 }, (_, i) => ({ sub: `mix-user-${i}`, tenant: i % 2 ? 'acme' : 'globex', kind: 'user', scopes: new Set(['crm:read', 'finance:read', 'billing:read', 'sync:read']), exp }));
const QUERY = 'query Account360__crm__0($id:ID!){account(id:$id){__typename id name lifecycleStage externalIds{system remoteId}contacts(first:5){nodes{id email}}}}';

type Sign = (p: Principal, r: { query: string; variables: unknown }) => Promise<string>;

/** The signer as it was: jose's SignJWT per header (same claims, same per-principal-and-body reuse). */
function joseSigner(secret: string): Sign {
  const key = new TextEncoder().encode(secret);
  const cache = new Map<string, string>();
  return async (p, request) => {
    const now = Math.floor(Date.now() / 1000);
    const digest = requestDigest(request);
    const cacheKey = `${p.tenant}|${p.sub}|${p.kind}|${p.exp}|${[...p.scopes].join(' ')}|${digest}`;
    const hit = cache.get(cacheKey);
    if (hit) return hit;
    const header = await new SignJWT({ tenant: p.tenant, scope: [...p.scopes].join(' '), kind: p.kind, cexp: p.exp, bh: digest })
      .setProtectedHeader({ alg: 'HS256' }).setSubject(p.sub).setIssuer('sor-gateway').setAudience('sor-subgraphs')
      .setIssuedAt(now).setExpirationTime(Math.min(now + 10, p.exp)).setJti(randomUUID()).sign(key);
    if (cache.size > 10_000) cache.clear();
    cache.set(cacheKey, header);
    return header;
  };
}

let serial = 0;
async function signBlock(sign: Sign): Promise<number> {
  const t0 = process.cpuUsage();
  for (let i = 0; i < block; i++) await sign(principals[i % principals.length] as Principal, { query: QUERY, variables: { id: `acc_${(serial += 1)}` } });
  const d = process.cpuUsage(t0);
  return (d.user + d.system) / block;
}

type CreateHash = (kind: string) => { update(s: string): { digest(e: 'hex'): string } };
function hashBlock(createHash: CreateHash): number {
  const t0 = process.cpuUsage();
  for (let i = 0; i < block; i++) createHash('sha256').update(QUERY).digest('hex');
  const d = process.cpuUsage(t0);
  return (d.user + d.system) / block;
}

async function main(): Promise<void> {
  const verify = claimsVerifier(SECRET);
  const probe = { query: QUERY, variables: { id: 'acc_1' } };
  const header = await claimsSigner(SECRET)(principals[0] as Principal, probe);
  const got = await verify(header, probe);
  if (got.sub !== principals[0]?.sub || got.tenant !== principals[0]?.tenant) throw new Error('the subgraphs do not read the new header back');

  const createhash = require.resolve('@apollo/utils.createhash', { paths: [path.dirname(require.resolve('@apollo/server'))] });
  const packaged = (require(createhash) as { createHash: CreateHash }).createHash;
  require('../gateway/node-createhash');
  const direct = (require(createhash) as { createHash: CreateHash }).createHash;
  if (direct === packaged) throw new Error('gateway/node-createhash.ts did not replace createHash');

  const [before, after] = [joseSigner(SECRET), claimsSigner(SECRET)];
  const rows: string[][] = [];
  for (let r = 1; r <= rounds; r++) {
    rows.push([String(r), (await signBlock(before)).toFixed(1), (await signBlock(after)).toFixed(1), hashBlock(packaged).toFixed(2), hashBlock(direct).toFixed(2)]);
  }
  const median = (col: number) => {
    const xs = rows.map((row) => Number(row[col])).sort((a, b) => a - b);
    return (xs[Math.floor(xs.length / 2)] ?? Number.NaN).toFixed(2);
  };
  rows.push(['median', median(1), median(2), median(3), median(4)]);
  process.stdout.write(`${machineDescription()}\n${block} calls per variant per round, CPU µs per call:\n\n`);
  process.stdout.write(`${table(['round', 'header: jose SignJWT', 'header: jose, one KeyObject', 'hash: package', 'hash: node:crypto'], rows)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench/hot-hashing.ts: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
