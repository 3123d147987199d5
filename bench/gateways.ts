/**
 * Our gateway against the Node federation gateways, side by side (`npm run bench:gateways`).
 *
 * One invocation, one set of subgraphs, one seeded database:
 *   1. Creates a scratch Postgres database, then starts crm, erp, billing and sync (bench/gateways-subgraphs.ts) in
 *      one child process pinned to CPU 1, seeded with --accounts accounts for each of two tenants.
 *   2. Starts each gateway under test (bench/gateways-server.ts) in turn in its own child process pinned to CPU 0:
 *      ours (JWT auth, signed claims, shield in the subgraphs, cost rate limits on Redis, RESPONSE_CACHE=off), ours
 *      with the Redis response cache on, stock @apollo/gateway with default settings, Hive Gateway with default
 *      settings and without its in-flight deduplication of identical subgraph requests, and the same two with
 *      @graphql-hive/router-runtime (Hive Router's Rust query planner). The stock gateways send an `x-gateway-claims`
 *      header signed per body for the principal of the client's token (see bench/gateways-server.ts).
 *   3. Drives each from this process (pinned to CPU 1) with bench/support.ts graphqlLoad (autocannon), one load after
 *      the other on the same gateway process: --connections connections, --warmup seconds discarded, then --duration
 *      seconds measured. `single`: one token, one nested CRM → ERP → billing query, identical variables (the kindest
 *      load: dedup collapses it). `mix`: the realistic mix of bench/gateways-mix.ts (hundreds of principals of both
 *      tenants and all token kinds, 30 operations and 4 mutations, about 5 % writes, variables drawn per request).
 *      Every body must be `{"data":…}` without `errors`; every 10th is parsed and checked. Before any load (the mix
 *      writes), every gateway answers the same parity probes (bench/gateways-parity.ts: the single query and every read
 *      of the mix per tenant and token kind) and must answer them as ours does; `--parity-only` stops there. Peak RSS is VmHWM from /proc/<pid>/status; CPU time
 *      per request comes from /proc/<pid>/stat, and /proc/stat tells how much of the gateway's core other processes took.
 *   4. Overhead: `{ plans { code } }` sent sequentially to the billing subgraph directly (with a signed header) and
 *      through each gateway (not ours-cache: a hit never reaches the subgraph) and a bare pass-through, with the
 *      server on its core and then on the client's; the difference of the medians is what the server adds.
 *   5. Profile: our gateway once more under the same load with `node --cpu-prof`; the samples of the measured window
 *      are summed by function (self time) and by package.
 *
 *   npx tsx bench/gateways.ts [--accounts 50] [--connections 50] [--warmup 5] [--duration 20] [--first 20]
 *                             [--gateways ours,ours-cache,stock,hive,hive-nodedup,hive-router,hive-router-nodedup]
 *                             [--loads single,mix] [--principals 300] [--seed 17] [--variants 20] [--profile-load mix]
 *                             [--overhead-requests 1000] [--no-profile] [--real-subgraphs] [--redis-every-request]
 *                             [--parity-only] [--write]
 *
 * The subgraphs answer identical reads (same body, same tenant, token kind and scopes) from memory after the first
 * (bench/gateways-subgraphs.ts), so the gateway is the bottleneck; every table says whether that memo was on, and
 * how many subgraph reads it answered. --real-subgraphs runs every request through them (Postgres, shield) instead.
 *
 * --write puts the figures into bench/GATEWAYS.md (between its results markers). Needs Postgres (trust auth) at
 * BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres) and Redis at BENCH_REDIS_URL.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseCli } from '../lib/cli';
import { z } from 'zod';
import { Agent, request } from 'undici';
import { claimsSigner } from '../lib/auth/forwarded';
import { SCOPES } from '../lib/auth/principal';
import { mintToken, tokenVerifier } from '../lib/auth/tokens';
import { loadConfig } from '../lib/config';
import { BENCH_TENANT, GATEWAY_KINDS, type GatewayKind, PASSTHROUGH, type ServerKind, type SubgraphUrls, gatewayReady, subgraphsReady } from './gateways-common';
import { type ParityResult, type Probe, type ProbeAnswer, askProbe, compareWith, parityProbes } from './gateways-parity';
import { type Mix, type MixPrincipal, type TenantIds, discoverIds, mixPrincipals, mixRequests, partnerOperationsEnv, validateMix } from './gateways-mix';
import {
  BENCH_REDIS_URL, type ChildHandle, type LoadRequest, type LoadSummary, type MachineFacts, ROOT, cpuSeconds, cpuTimes, createDatabase, deleteRedisKeys, graphqlLoad,
  intOption, loadAverage, machineFacts, percentile, pinProcess, pinThisProcess, readMemory, runId, secondsPerTick, startChild, table,
} from './support';
const GATEWAY_CPU = 0;
const LOAD_CPU = 1;
const REPORT_PATH = path.join(__dirname, 'GATEWAYS.md');
const RESULTS_START = '<!-- results:start (written by `npx tsx bench/gateways.ts --write`) -->';
const RESULTS_END = '<!-- results:end -->';

/** CRM (accounts, contacts) → ERP (balance, invoices) → billing (invoice subscription, subscriptions, plans). */
const NESTED_QUERY = /* GraphQL */ `
  query GatewaysBench($first: Int!) {
    accounts(first: $first) {
      nodes {
        id name
        contacts(first: 5) { nodes { id email } }
        balance { amountMinor currency }
        invoices(first: 5) { nodes { id number status total { amountMinor currency } subscription { id status } } }
        subscriptions { id status items { quantity plan { code } } }
      }
    }
  }
`;
const SINGLE_SUBGRAPH_QUERY = '{ plans { code } }';

const OVERHEAD_LABELS: Record<ServerKind, string> = {
  ours: 'ours (all features, cache off)',
  'ours-cache': 'ours + response cache',
  stock: 'stock @apollo/gateway',
  hive: 'Hive Gateway (dedup on)',
  'hive-nodedup': 'Hive Gateway (dedup off)',
  'hive-router': 'Hive Gateway + Rust planner (dedup on)',
  'hive-router-nodedup': 'Hive Gateway + Rust planner (dedup off)',
  passthrough: 'passthrough (no GraphQL)',
};

const LABELS: Record<GatewayKind, string> = {
  ours: 'ours (auth, claims, shield, rate limits; cache off)',
  'ours-cache': 'ours + Redis response cache',
  stock: 'stock @apollo/gateway 2.14 (defaults)',
  hive: 'Hive Gateway 2.15 (defaults: in-flight dedup on)',
  'hive-nodedup': 'Hive Gateway 2.15, in-flight dedup off',
  'hive-router': 'Hive Gateway 2.15 + router-runtime 1.4 (Rust planner), dedup on',
  'hive-router-nodedup': 'Hive Gateway 2.15 + router-runtime 1.4 (Rust planner), dedup off',
};

const LOADS = ['single', 'mix'] as const;
type LoadKind = (typeof LOADS)[number];

// ---------------------------------------------------------------------------------------------------------------
// Arguments

const { values: args } = parseCli({
  usage: 'npm run bench:gateways -- [options]',
  summary: 'Our gateway against stock @apollo/gateway and Hive Gateway on the same subgraphs (needs PostgreSQL and Redis; see bench/GATEWAYS.md).',
  options: {
    accounts: { type: 'string', default: '50', description: 'accounts seeded per tenant', placeholder: 'n' },
    connections: { type: 'string', default: '50', description: 'autocannon connections', placeholder: 'n' },
    warmup: { type: 'string', default: '5', description: 'warm-up seconds (discarded) of the single-query load', placeholder: 's' },
    'mix-warmup': { type: 'string', default: '30', description: 'warm-up seconds (discarded) of the mix: long enough for the subgraph memo to have seen every distinct read of each gateway', placeholder: 's' },
    duration: { type: 'string', default: '20', description: 'measured seconds per gateway', placeholder: 's' },
    first: { type: 'string', default: '20', description: 'page size of the nested query', placeholder: 'n' },
    gateways: { type: 'string', default: GATEWAY_KINDS.join(','), description: 'comma-separated gateways to run', placeholder: 'list' },
    loads: { type: 'string', default: LOADS.join(','), description: 'loads to run on each gateway: single (one query, one token), mix (the realistic mix)', placeholder: 'list' },
    principals: { type: 'string', default: '300', description: 'principals of the mix, over both tenants and all token kinds', placeholder: 'n' },
    seed: { type: 'string', default: '17', description: 'seed of the mix\'s draws', placeholder: 'n' },
    variants: { type: 'string', default: '20', description: 'variable sets per read operation and tenant in the mix (0: fresh per request)', placeholder: 'n' },
    'profile-load': { type: 'string', default: 'mix', description: 'load of the CPU profile of our gateway (single, mix, or overhead: sequential single-subgraph queries)', placeholder: 'load' },
    'overhead-requests': { type: 'string', default: '1000', description: 'sequential requests of the overhead measurement', placeholder: 'n' },
    'no-profile': { type: 'boolean', description: 'skip the CPU profile of our gateway' },
    'keep-profile': { type: 'string', description: 'directory to keep the .cpuprofile of our gateway in (open it in Chrome DevTools)', placeholder: 'dir' },
    'real-subgraphs': { type: 'boolean', description: 'run every request through the subgraphs (Postgres, shield)' },
    'redis-every-request': { type: 'boolean', description: 'ask Redis on every request for rate limits (localDecisionMs 0)' },
    'parity-only': { type: 'boolean', description: 'only compare every gateway\'s answers to the probes with ours, no load' },
    write: { type: 'boolean', description: 'write the figures into bench/GATEWAYS.md' },
  },
});
const settings = {
  accounts: intOption('accounts', args.accounts),
  connections: intOption('connections', args.connections),
  warmup: intOption('warmup', args.warmup),
  mixWarmup: intOption('mix-warmup', args['mix-warmup']),
  duration: intOption('duration', args.duration),
  first: intOption('first', args.first),
  overheadRequests: intOption('overhead-requests', args['overhead-requests']),
  profile: !args['no-profile'],
  keepProfile: args['keep-profile'],
  realSubgraphs: args['real-subgraphs'],
  redisEveryRequest: args['redis-every-request'],
  write: args.write,
  parityOnly: args['parity-only'],
  gateways: args.gateways.split(',').map((g) => {
    const kind = GATEWAY_KINDS.find((k) => k === g.trim());
    if (!kind) throw new Error(`--gateways: unknown gateway "${g}" (known: ${GATEWAY_KINDS.join(', ')})`);
    return kind;
  }),
  loads: args.loads.split(',').map((l) => loadKind('loads', l)),
  principals: intOption('principals', args.principals, 6),
  seed: intOption('seed', args.seed, 0),
  variants: intOption('variants', args.variants, 0),
  profileLoad: args['profile-load'] === 'overhead' ? ('overhead' as const) : loadKind('profile-load', args['profile-load']),
};
function loadKind(option: string, raw: string): LoadKind {
  const kind = LOADS.find((k) => k === raw.trim());
  if (!kind) throw new Error(`--${option}: unknown load "${raw}" (known: ${LOADS.join(', ')})`);
  return kind;
}
if (settings.first > settings.accounts) throw new Error('--first cannot exceed --accounts');

// ---------------------------------------------------------------------------------------------------------------
// Validation of answers

const money = z.object({ amountMinor: z.string(), currency: z.string() });
const nestedAnswer = z.object({
  data: z.object({
    accounts: z.object({
      nodes: z.array(
        z.object({
          id: z.string(),
          name: z.string(),
          contacts: z.object({ nodes: z.array(z.object({ id: z.string(), email: z.string().nullable() })) }),
          balance: money.nullable(),
          invoices: z.object({
            nodes: z.array(z.object({ id: z.string(), number: z.string(), status: z.string(), total: money, subscription: z.object({ id: z.string(), status: z.string() }).nullable() })),
          }),
          subscriptions: z.array(z.object({ id: z.string(), status: z.string(), items: z.array(z.object({ quantity: z.number(), plan: z.object({ code: z.string() }) })) })),
        }),
      ),
    }),
  }),
});

/** Why a nested answer is not a complete one (null when it is). */
function checkNested(body: string, first: number): string | null {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return `not JSON: ${body.slice(0, 200)}`;
  }
  if (json && typeof json === 'object' && 'errors' in json) return `errors in the answer: ${body.slice(0, 300)}`;
  const parsed = nestedAnswer.safeParse(json);
  if (!parsed.success) return `unexpected shape (${parsed.error.issues[0]?.path.join('.') ?? ''}: ${parsed.error.issues[0]?.message ?? ''}): ${body.slice(0, 300)}`;
  const nodes = parsed.data.data.accounts.nodes;
  if (nodes.length !== first) return `${nodes.length} accounts instead of ${first}`;
  if (!nodes.some((n) => n.contacts.nodes.length > 0)) return 'no contacts (CRM)';
  if (!nodes.some((n) => n.balance !== null) || !nodes.some((n) => n.invoices.nodes.length > 0)) return 'no balances or invoices (ERP)';
  if (!nodes.some((n) => n.subscriptions.length > 0)) return 'no subscriptions (billing)';
  return null;
}


async function post(url: string, headers: Record<string, string>, query: string, variables?: Record<string, unknown>): Promise<{ status: number; body: string }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query, variables }) });
  return { status: res.status, body: await res.text() };
}

/** A mix answer passes when it is JSON with a `data` object whose root fields are not all null. */
function checkMix(status: number, body: string): string | null {
  if (status !== 200) return `HTTP ${status}: ${body.slice(0, 200)}`;
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return `not JSON: ${body.slice(0, 200)}`;
  }
  if (!json || typeof json !== 'object' || 'errors' in json) return `errors in the answer: ${body.slice(0, 300)}`;
  const data = 'data' in json ? json.data : null;
  if (!data || typeof data !== 'object' || Object.values(data).every((v) => v === null)) return `no data: ${body.slice(0, 300)}`;
  return null;
}

// ---------------------------------------------------------------------------------------------------------------
// Load

interface Loads {
  token: string;
  mix: Mix | null;
}

/** One load on one gateway: the single query or the mix, through bench/support.ts graphqlLoad. */
function runLoad(load: LoadKind, url: string, loads: Loads, onMeasureStart?: () => void): Promise<LoadSummary> {
  // The mix's warm-up is longer: each gateway plans its own subgraph requests, so the memo warms per gateway; with a
  // short one, whichever gateway ran later found more answers in memory (5 s: 75-97 % of reads, and the order decided).
  const common = { url, connections: settings.connections, warmup: load === 'mix' ? settings.mixWarmup : settings.warmup, duration: settings.duration, timeout: 30, onMeasureStart };
  if (load === 'single') {
    return graphqlLoad({ ...common, token: loads.token, query: NESTED_QUERY, variables: { first: settings.first }, check: (status, body) => (status === 200 ? checkNested(body, settings.first) : `HTTP ${status}: ${body.slice(0, 200)}`) });
  }
  const mix = loads.mix;
  if (!mix) throw new Error('the mix was not prepared');
  const next = (): LoadRequest => mix.next();
  return graphqlLoad({ ...common, next, check: checkMix });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits (up to 15 s) until the given processes use under 5 % of a core over 300 ms: abandoned requests are done. */
async function settle(...pids: number[]): Promise<void> {
  const deadline = performance.now() + 15_000;
  while (performance.now() < deadline) {
    const before = pids.map(cpuSeconds);
    await sleep(300);
    const busy = pids.some((pid, i) => (cpuSeconds(pid) - (before[i] ?? 0)) / 0.3 > 0.05);
    if (!busy) return;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// One gateway

interface MemoStats {
  hits: number;
  misses: number;
  writes: number;
}

/** One load's figures on one gateway. */
interface LoadRun {
  load: LoadSummary;
  /** CPU used in the measured window, % of one core: the gateway and the subgraphs process. */
  gatewayCpu: number;
  subgraphsCpu: number;
  /** CPU time per measured response, ms: the gateway and the subgraphs process. */
  gatewayCpuMsPerRequest: number;
  subgraphsCpuMsPerRequest: number;
  /** % of the gateway's CPU (0) busy with other processes in the measured window (contention from other work). */
  othersOnGatewayCpu: number;
  /** Subgraph reads the memo answered / sent on / writes, in the measured window (null: memo off). */
  memo: MemoStats | null;
}

interface GatewayRun {
  kind: GatewayKind;
  startMs: number;
  loads: Partial<Record<LoadKind, LoadRun>>;
  /** Peak RSS (VmHWM) of the gateway process over its life (every load), MiB. */
  peakRssMiB: number;
  /** RSS once started and after the pre-flight request, before any load, MiB. */
  startRssMiB: number;
}

interface Env {
  base: NodeJS.ProcessEnv;
  token: string;
  urls: SubgraphUrls;
  subgraphsPid: number;
  redisPrefix: string;
  loads: Loads;
  /** PARTNER_OPERATIONS of our gateway: the mix's partners and their allowlisted texts. */
  partnerOperations: string;
}

function gatewayEnv(kind: ServerKind, env: Env): NodeJS.ProcessEnv {
  const ours = kind === 'ours' || kind === 'ours-cache';
  return {
    ...env.base,
    BENCH_GATEWAY_KIND: kind,
    BENCH_SUBGRAPH_URLS: JSON.stringify(env.urls),
    BENCH_TOKEN: env.token,
    ...(ours
      ? {
          REDIS_URL: BENCH_REDIS_URL,
          REDIS_KEY_PREFIX: `${env.redisPrefix}${kind}:`,
          RESPONSE_CACHE: kind === 'ours-cache' ? 'on' : 'off',
          // Far above what a run can spend: the limiter still runs (and spends in Redis), never refuses.
          // --redis-every-request: every request waits for Redis (localDecisionMs 0), as before MirroredLimiter.
          // The tenant's fair share likewise: it admits every operation (50 connections of one tenant would otherwise
          // queue behind maxInFlightCostPerTenant and be refused past maxQueuedPerTenant).
          RATE_LIMITS: JSON.stringify({
            perKind: { user: 1e12, partner: 1e12, service: 1e12 }, perTenant: 1e12, maxInFlightCostPerTenant: 1e12, maxConcurrentPerTenant: 1e6,
            ...(settings.redisEveryRequest ? { localDecisionMs: 0 } : {}),
          }),
          PARTNER_OPERATIONS: env.partnerOperations,
        }
      : {}),
  };
}

/**
 * Node flags our gateway runs with (package.json `gateway` and `start` scripts): a 64 MiB young generation instead of
 * the default 16, so the short-lived objects of each request die in fewer, cheaper scavenges (garbage collection was
 * a quarter of the gateway's CPU under load). The other gateways run with Node's defaults.
 */
const OUR_NODE_FLAGS = ['--max-semi-space-size=64'];

function startGatewayChild(kind: ServerKind, env: Env, nodeArgs: readonly string[] = []): Promise<ChildHandle<z.infer<typeof gatewayReady>>> {
  const ours = kind === 'ours' || kind === 'ours-cache';
  return startChild('gateways-server.ts', { label: kind, cpu: GATEWAY_CPU, env: gatewayEnv(kind, env), schema: gatewayReady, stopBy: 'stdin', nodeArgs: [...(ours ? OUR_NODE_FLAGS : []), ...nodeArgs] });
}

async function preflight(url: string, token: string): Promise<void> {
  const res = await post(url, { authorization: `Bearer ${token}` }, NESTED_QUERY, { first: settings.first });
  const problem = res.status === 200 ? checkNested(res.body, settings.first) : `HTTP ${res.status}: ${res.body.slice(0, 400)}`;
  if (problem) throw new Error(`pre-flight request failed: ${problem}`);
}

/** The memo's counters (any front answers them), or null when the subgraphs run without it. */
async function memoStats(urls: SubgraphUrls): Promise<MemoStats | null> {
  if (settings.realSubgraphs) return null;
  const res = await fetch(new URL('/__memo', urls.crm));
  return (await res.json()) as MemoStats;
}

/** One load on a started gateway, with the CPU of the gateway and the subgraphs over its measured window. */
async function measureLoad(load: LoadKind, url: string, pid: number, env: Env): Promise<LoadRun> {
  let cpu0 = { gw: Number.NaN, sg: Number.NaN, t: 0, core: cpuTimes(GATEWAY_CPU) };
  let memo0: Promise<MemoStats | null> = Promise.resolve(null);
  const result = await runLoad(load, url, env.loads, () => {
    cpu0 = { gw: cpuSeconds(pid), sg: cpuSeconds(env.subgraphsPid), t: performance.now(), core: cpuTimes(GATEWAY_CPU) };
    memo0 = memoStats(env.urls);
  });
  const wall = (performance.now() - cpu0.t) / 1000;
  const gwSeconds = cpuSeconds(pid) - cpu0.gw;
  const sgSeconds = cpuSeconds(env.subgraphsPid) - cpu0.sg;
  const core = cpuTimes(GATEWAY_CPU);
  const [before, after] = await Promise.all([memo0, memoStats(env.urls)]);
  const coreBusySeconds = (core.busy - cpu0.core.busy) * secondsPerTick();
  const coreTotalSeconds = (core.total - cpu0.core.total) * secondsPerTick();
  return {
    load: result,
    gatewayCpu: (gwSeconds / wall) * 100,
    subgraphsCpu: (sgSeconds / wall) * 100,
    gatewayCpuMsPerRequest: (gwSeconds * 1000) / result.requests,
    subgraphsCpuMsPerRequest: (sgSeconds * 1000) / result.requests,
    othersOnGatewayCpu: coreTotalSeconds > 0 ? (Math.max(0, coreBusySeconds - gwSeconds) / coreTotalSeconds) * 100 : Number.NaN,
    memo: before && after ? { hits: after.hits - before.hits, misses: after.misses - before.misses, writes: after.writes - before.writes } : null,
  };
}

async function benchGateway(kind: GatewayKind, env: Env, after?: (url: string, pid: number) => Promise<void>): Promise<GatewayRun> {
  const child = await startGatewayChild(kind, env);
  try {
    await preflight(child.info.url, env.token);
    const startRss = readMemory(child.pid)?.rss ?? Number.NaN;
    const loads: GatewayRun['loads'] = {};
    for (const load of settings.loads) {
      process.stderr.write(`${kind}: ${load} load, ${load === 'mix' ? settings.mixWarmup : settings.warmup} s warm-up + ${settings.duration} s measured\n`);
      const run = await measureLoad(load, child.info.url, child.pid, env);
      loads[load] = run;
      process.stderr.write(`${kind} ${load}: ${f1(run.load.rps)} req/s, p50 ${f1(run.load.p50)} ms, p99 ${f1(run.load.p99)} ms, ${f2(run.gatewayCpuMsPerRequest)} CPU ms/req\n`);
      // Requests autocannon abandoned at the end may still be running: let them finish before the next measurement.
      await settle(env.subgraphsPid, child.pid);
    }
    // VmHWM is the process's peak so far: one reading after the loads covers them all.
    const peak = readMemory(child.pid)?.hwm ?? 0;
    if (after) await after(child.info.url, child.pid);
    return { kind, startMs: child.info.startMs, loads, peakRssMiB: peak / 2 ** 20, startRssMiB: startRss / 2 ** 20 };
  } finally {
    await child.stop();
    await settle(env.subgraphsPid);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Parity: the same probes through every gateway, before any load writes

interface Parity {
  probes: number;
  byGateway: Map<GatewayKind, ParityResult>;
}

async function parityPhase(env: Env, principals: readonly MixPrincipal[], ids: Readonly<Record<string, TenantIds>>): Promise<Parity> {
  const single: Probe = { label: 'single query', operation: 'GatewaysBench', body: JSON.stringify({ query: NESTED_QUERY, variables: { first: settings.first } }), authorization: `Bearer ${env.token}` };
  const probes = [single, ...parityProbes(principals, ids, settings.seed)];
  const kinds: GatewayKind[] = ['ours', ...settings.gateways.filter((k) => k !== 'ours')];
  let reference: ProbeAnswer[] = [];
  const byGateway = new Map<GatewayKind, ParityResult>();
  for (const kind of kinds) {
    const child = await startGatewayChild(kind, env);
    try {
      process.stderr.write(`${kind}: ${probes.length} parity probes\n`);
      if (kind === 'ours') {
        reference = [];
        for (const probe of probes) reference.push(await askProbe(child.info.url, probe));
        const failing = reference.flatMap((a, i) => (a.status !== 200 || a.errors.length > 0 ? [`${probes[i]?.label ?? ''}: ${a.status} ${a.errors.map((e) => e.message).join('; ')}`] : []));
        if (failing.length > 0) throw new Error(`our gateway does not answer every probe cleanly:\n${failing.join('\n')}`);
      } else {
        byGateway.set(kind, await compareWith(child.info.url, probes, reference));
      }
    } finally {
      await child.stop();
    }
  }
  return { probes: probes.length, byGateway };
}

function parityText(p: Parity): string {
  const same = [...p.byGateway.entries()].filter(([, r]) => r.differences.length === 0).map(([k]) => k);
  const differing = [...p.byGateway.entries()].filter(([, r]) => r.differences.length > 0);
  const lines = [
    `Parity (before any load, so before any write): the single query and every read operation of the mix once per tenant and token kind that may ` +
      `send it, ${p.probes} probes, sent to every gateway; each answer's HTTP status, data and errors (message, path, code) compared with ours, ` +
      `keys sorted. ${same.length > 0 ? `Same answers as ours to all ${p.probes}: ${same.join(', ')}.` : ''}` +
      `${differing.length > 0 ? ' **Differing** (their req/s is not comparable on these operations):' : ''}`,
  ];
  for (const [kind, r] of differing) lines.push(`- ${kind}: ${r.differences.length} of ${r.probes} differ: ${r.differences.map((d) => `${d.label} (${d.difference})`).join('; ')}`);
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------------------------
// Overhead of our gateway on a single-subgraph query

interface Percentiles {
  p50: number;
  p90: number;
  p99: number;
}

interface OverheadLayout {
  direct: Percentiles;
  through: Percentiles;
  /** CPU time of the server process per request through it (all its threads, kernel time included), ms. */
  cpuMsPerRequest: number;
  /** CPU time of the subgraphs' process per request, straight to billing and through the server, ms. */
  subgraphCpuMs: { direct: number; through: number };
}

interface Overhead {
  kind: ServerKind;
  requests: number;
  /** As pinned for the load: the server on CPU 0, the client and the subgraphs on CPU 1. */
  crossCore: OverheadLayout;
  /** The server moved to CPU 1 with the client and the subgraphs: no cross-core wake-ups on the path. */
  sameCore: OverheadLayout | null;
}

/**
 * Sequential `{ plans { code } }` straight to billing and through a server, in alternating blocks so a burst of other
 * work hits both sides alike. The client is undici's `request` on one keep-alive connection per target, the leanest
 * Node client, so the figures are mostly the servers' time. Measured twice: with the server where the load test
 * pinned it (CPU 0; every hop wakes the other core), then moved to CPU 1 next to the client and the subgraphs.
 */
async function measureOverhead(kind: ServerKind, url: string, pid: number, subgraphsPid: number, billingUrl: string, token: string, signedClaims: () => Promise<string>): Promise<Overhead> {
  const agent = new Agent({ keepAliveTimeout: 60_000, connections: 1 });
  const body = JSON.stringify({ query: SINGLE_SUBGRAPH_QUERY });
  const serverHeaders = { 'content-type': 'application/json', authorization: `Bearer ${token}` };
  const directHeaders = async () => ({ 'content-type': 'application/json', 'x-gateway-claims': await signedClaims() });
  const once = async (target: string, headers: Record<string, string>): Promise<number> => {
    const t = performance.now();
    const res = await request(target, { method: 'POST', headers, body, dispatcher: agent });
    const text = await res.body.text();
    const ms = performance.now() - t;
    if (res.statusCode !== 200 || !text.startsWith('{"data":{"plans":[{') || text.includes('"errors"')) {
      throw new Error(`single-subgraph query failed at ${target}: HTTP ${res.statusCode} ${text.slice(0, 300)}`);
    }
    return ms;
  };
  const stats = (xs: number[]): Percentiles => {
    const s = [...xs].sort((x, y) => x - y);
    return { p50: percentile(s, 50), p90: percentile(s, 90), p99: percentile(s, 99) };
  };
  const layout = async (): Promise<OverheadLayout> => {
    for (let i = 0; i < 100; i++) {
      await once(billingUrl, await directHeaders());
      await once(url, serverHeaders);
    }
    const direct: number[] = [];
    const through: number[] = [];
    let cpu = 0;
    const subgraphCpu = { direct: 0, through: 0 };
    for (let done = 0; done < settings.overheadRequests; done += 20) {
      // Claims live 60 s: take the signer's current header (re-signed after 30 s) before each block.
      const headers = await directHeaders();
      const subgraphsBefore = cpuSeconds(subgraphsPid);
      for (let i = 0; i < 20; i++) direct.push(await once(billingUrl, headers));
      const subgraphsThrough = cpuSeconds(subgraphsPid);
      subgraphCpu.direct += subgraphsThrough - subgraphsBefore;
      const before = cpuSeconds(pid);
      for (let i = 0; i < 20; i++) through.push(await once(url, serverHeaders));
      cpu += cpuSeconds(pid) - before;
      subgraphCpu.through += cpuSeconds(subgraphsPid) - subgraphsThrough;
    }
    const perRequest = (seconds: number) => (seconds * 1000) / through.length;
    return {
      direct: stats(direct), through: stats(through), cpuMsPerRequest: perRequest(cpu),
      subgraphCpuMs: { direct: perRequest(subgraphCpu.direct), through: perRequest(subgraphCpu.through) },
    };
  };
  try {
    const crossCore = await layout();
    const sameCore = pinProcess(pid, LOAD_CPU) ? await layout() : null;
    return { kind, requests: settings.overheadRequests, crossCore, sameCore };
  } finally {
    await agent.close();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// CPU profile

const cpuProfile = z.object({
  nodes: z.array(
    z.object({
      id: z.number(),
      callFrame: z.object({ functionName: z.string(), url: z.string(), lineNumber: z.number(), columnNumber: z.number() }),
    }),
  ),
  startTime: z.number(),
  endTime: z.number(),
  samples: z.array(z.number()),
  timeDeltas: z.array(z.number()),
});

interface ProfileSummary {
  file: string;
  /** Whether the samples were cut to the measured window (false: the whole life of the process). */
  windowed: boolean;
  sampledMs: number;
  idleMs: number;
  top: { name: string; where: string; ms: number; pct: number }[];
  packages: { name: string; ms: number; pct: number }[];
  loadKind: LoadKind | 'overhead';
  load: LoadSummary;
}

function shortUrl(url: string): string {
  const file = url.replace(/^file:\/\//, '');
  const nm = file.lastIndexOf('/node_modules/');
  if (nm !== -1) return file.slice(nm + '/node_modules/'.length);
  if (file.startsWith(ROOT)) return file.slice(ROOT.length + 1);
  return file;
}

function packageOf(url: string, name: string): string {
  if (name === '(garbage collector)' || name === '(program)' || name === '(idle)') return name;
  if (url === '') return '(native / V8 builtins)';
  if (url.startsWith('node:')) return 'node: core';
  const file = url.replace(/^file:\/\//, '');
  const nm = file.lastIndexOf('/node_modules/');
  if (nm !== -1) {
    const parts = file.slice(nm + '/node_modules/'.length).split('/');
    return parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1] ?? ''}` : (parts[0] ?? file);
  }
  if (file.startsWith(ROOT)) return `project: ${file.slice(ROOT.length + 1).split('/')[0] ?? ''}/`;
  return file;
}

/** Self time by function and by package, of the samples taken between `fromUs` and `toUs` (monotonic clock). */
function summariseProfile(file: string, fromUs: number, toUs: number, loadKind: LoadKind | 'overhead', load: LoadSummary): ProfileSummary {
  const profile = cpuProfile.parse(JSON.parse(readFileSync(file, 'utf8')));
  const byId = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  // V8 stamps samples on the same monotonic clock as process.hrtime (CLOCK_MONOTONIC on Linux); if the window does
  // not fall inside the profile (another clock), the whole profile is summarised and the report says so.
  const windowed = fromUs >= profile.startTime && toUs <= profile.endTime + 1_000_000;
  const self = new Map<number, number>();
  let t = profile.startTime;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    t += delta;
    if (windowed && (t < fromUs || t > toUs)) return;
    self.set(id, (self.get(id) ?? 0) + delta);
  });
  const byFunction = new Map<string, { name: string; where: string; us: number }>();
  const byPackage = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of self) {
    const frame = byId.get(id);
    if (!frame) continue;
    const name = frame.functionName || '(anonymous)';
    if (name === '(idle)') {
      idle += us;
      continue;
    }
    total += us;
    const where = frame.url ? `${shortUrl(frame.url)}:${frame.lineNumber + 1}` : '';
    const key = `${name}|${where}`;
    const entry = byFunction.get(key) ?? { name, where, us: 0 };
    entry.us += us;
    byFunction.set(key, entry);
    const pkg = packageOf(frame.url, name);
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + us);
  }
  const pct = (us: number) => (total > 0 ? (us / total) * 100 : 0);
  return {
    file,
    windowed,
    sampledMs: total / 1000,
    idleMs: idle / 1000,
    top: [...byFunction.values()].sort((a, b) => b.us - a.us).slice(0, 20).map((f) => ({ name: f.name, where: f.where, ms: f.us / 1000, pct: pct(f.us) })),
    packages: [...byPackage.entries()].sort((a, b) => b[1] - a[1]).slice(0, 15).map(([name, us]) => ({ name, ms: us / 1000, pct: pct(us) })),
    loadKind,
    load,
  };
}

const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);

/** `{ plans { code } }` one after the other on one keep-alive connection: --warmup seconds, then --duration measured. */
async function sequentialLoad(url: string, token: string, onMeasureStart: () => void): Promise<LoadSummary> {
  const agent = new Agent({ keepAliveTimeout: 60_000, connections: 1 });
  const body = JSON.stringify({ query: SINGLE_SUBGRAPH_QUERY });
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${token}` };
  const times: number[] = [];
  let bad = 0;
  let responses = 0;
  const run = async (seconds: number, keep: boolean) => {
    const end = performance.now() + seconds * 1000;
    while (performance.now() < end) {
      const t = performance.now();
      const res = await request(url, { method: 'POST', headers, body, dispatcher: agent });
      const text = await res.body.text();
      responses += 1;
      if (res.statusCode !== 200 || !text.startsWith('{"data":{"plans":[{')) bad += 1;
      if (keep) times.push(performance.now() - t);
    }
  };
  try {
    await run(settings.warmup, false);
    onMeasureStart();
    await run(settings.duration, true);
  } finally {
    await agent.close();
  }
  const sorted = [...times].sort((a, b) => a - b);
  return {
    requests: times.length, seconds: settings.duration, rps: times.length / settings.duration,
    p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99), max: sorted.at(-1) ?? 0,
    non2xx: 0, mismatches: bad, total: { responses, non2xx: 0, mismatches: bad, errors: 0, timeouts: 0 }, xCache: {}, sampled: responses, sampleFailures: bad, firstFailure: null,
  };
}

async function profileOurs(env: Env): Promise<ProfileSummary> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gateways-cpuprof-'));
  try {
    const child = await startGatewayChild('ours', { ...env, redisPrefix: `${env.redisPrefix}profile:` }, ['--cpu-prof', '--cpu-prof-dir', dir]);
    let load: LoadSummary;
    let from: number;
    let to: number;
    try {
      await preflight(child.info.url, env.token);
      process.stderr.write(`profile: ${settings.profileLoad} load, ${settings.warmup} s warm-up + ${settings.duration} s measured under --cpu-prof\n`);
      from = Number.NaN;
      const start = () => {
        from = monotonicUs();
      };
      load = settings.profileLoad === 'overhead' ? await sequentialLoad(child.info.url, env.token, start) : await runLoad(settings.profileLoad, child.info.url, env.loads, start);
      to = monotonicUs();
    } finally {
      await child.stop(30_000);
    }
    // One file per thread (CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile): the main thread is thread 0.
    const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).map((f) => path.join(dir, f));
    const main = files.find((f) => path.basename(f).includes(`.${child.pid}.0.`)) ?? files.sort((a, b) => statSync(b).size - statSync(a).size)[0];
    if (!main) throw new Error(`node --cpu-prof wrote no profile into ${dir}`);
    if (settings.keepProfile) {
      const kept = path.join(settings.keepProfile, path.basename(main));
      writeFileSync(kept, readFileSync(main));
      process.stderr.write(`profile kept in ${kept}\n`);
    }
    return summariseProfile(main, from, to, settings.profileLoad, load);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Report

const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '-');
const f2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : '-');

const md = (header: readonly string[], rows: readonly (readonly string[])[], left: readonly string[] = []) => table(header, rows, { markdown: true, left });

interface Report {
  command: string;
  machine: MachineFacts;
  loadBefore: string;
  loadAfter: string;
  pinned: boolean;
  seedMs: number;
  runs: GatewayRun[];
  overhead: Overhead[];
  profile: ProfileSummary | null;
  mix: Mix | null;
  principals: readonly MixPrincipal[];
  parity: Parity | null;
  wallSeconds: number;
  date: string;
}

const LOAD_TITLES: Record<LoadKind, string> = {
  single: 'Single query (one token, one query, identical variables: the kindest load)',
  mix: 'Realistic mix (hundreds of principals, 34 operations, ~5 % writes, varied variables)',
};

function memoCell(run: LoadRun): string {
  if (!run.memo) return 'off';
  const reads = run.memo.hits + run.memo.misses;
  return reads > 0 ? `on, ${f1((run.memo.hits / reads) * 100)} % of ${reads} reads` : 'on, 0 reads';
}

function loadTable(r: Report, load: LoadKind): string[] {
  const rows = r.runs.flatMap((run) => {
    const lr = run.loads[load];
    if (!lr) return [];
    const l = lr.load;
    const checks = `${l.sampled - l.sampleFailures}/${l.sampled} deep, ${l.total.mismatches} bad, ${l.total.non2xx} non-2xx, ${l.total.errors + l.total.timeouts} errors`;
    const cache = run.kind === 'ours-cache' ? `; measured x-cache ${Object.entries(l.xCache).map(([k, v]) => `${k} ${v}`).join(', ')}` : '';
    const differs = r.parity?.byGateway.get(run.kind)?.differences.length ?? 0;
    const same = differs > 0 ? ` **${differs} parity probes differ from ours**` : '';
    return [[
      LABELS[run.kind], f1(l.rps), f1(l.p50), f1(l.p99), f2(lr.gatewayCpuMsPerRequest), f1(lr.gatewayCpu), f2(lr.subgraphsCpuMsPerRequest), memoCell(lr), f1(run.peakRssMiB),
      f1(lr.othersOnGatewayCpu), `${l.requests} measured; whole run incl. warm-up: ${checks}${cache}${same}`,
    ]];
  });
  if (rows.length === 0) return [];
  const out = [
    `### ${LOAD_TITLES[load]}`,
    '',
    md(['gateway', 'req/s', 'p50 ms', 'p99 ms', 'gateway CPU ms/req', 'gateway CPU %', 'subgraphs CPU ms/req', 'subgraph memo', 'peak RSS MiB', 'CPU 0 used by others %', 'answers'], rows, ['subgraph memo', 'answers']),
    '',
  ];
  const byKind = new Map(r.runs.map((run) => [run.kind, run.loads[load]]));
  const ratios: string[] = [];
  for (const ours of ['ours', 'ours-cache'] as const) {
    const o = byKind.get(ours);
    if (!o) continue;
    for (const other of ['stock', 'hive', 'hive-nodedup', 'hive-router', 'hive-router-nodedup'] as const) {
      const s = byKind.get(other);
      if (!s) continue;
      ratios.push(
        `- ${ours} / ${other}: req/s ×${f2(o.load.rps / s.load.rps)}, p50 ×${f2(o.load.p50 / s.load.p50)}, p99 ×${f2(o.load.p99 / s.load.p99)}, ` +
          `gateway CPU ms/req ×${f2(o.gatewayCpuMsPerRequest / s.gatewayCpuMsPerRequest)}`,
      );
    }
  }
  if (ratios.length > 0) out.push('Ratios (req/s above 1, latency and CPU below 1 favour ours):', '', ...ratios, '');
  return out;
}

function mixDescription(r: Report): string {
  const mix = r.mix;
  if (!mix) return '';
  const d = mix.drawn;
  const kinds = (k: MixPrincipal['kind']) => r.principals.filter((p) => p.kind === k).length;
  const pct = (n: number) => `${f1((n / Math.max(1, d.total)) * 100)} %`;
  const ops = [...d.byOperation.entries()].sort((a, b) => b[1] - a[1]);
  return (
    `Mix (bench/gateways-mix.ts, seed ${settings.seed}, ${settings.variants === 0 ? 'fresh variables per request' : `${settings.variants} variable sets per read operation and tenant, fresh ones per write`}): ${r.principals.length} principals over acme and globex ` +
    `(${kinds('user')} users, ${kinds('service')} services, ${kinds('partner')} partners, each its own \`sub\`); ` +
    `${d.total} requests drawn over all gateways: users ${pct(d.byKind.user)}, services ${pct(d.byKind.service)}, partners ${pct(d.byKind.partner)}; ` +
    `${pct(d.writes)} mutations; ${ops.length} distinct operations (most drawn: ${ops.slice(0, 4).map(([n, c]) => `${n} ${pct(c)}`).join(', ')}). ` +
    'Partners send only the operations allowlisted for them, as full texts whose sha256 is in our gateway\'s PARTNER_OPERATIONS ' +
    '(the other gateways check no allowlist); the stock and Hive gateways sign the claims of each client token\'s principal, as ours does.'
  );
}

function renderReport(r: Report): string {
  const out: string[] = [];
  out.push(`Run of ${r.date}: \`${r.command}\` (${r.wallSeconds.toFixed(0)} s wall).`, '');
  out.push(
    `Machine: nproc ${r.machine.nproc}, CPU "${r.machine.cpu}", node ${r.machine.node}, ${r.machine.kernel}. ` +
      `Load average ${r.loadBefore} before, ${r.loadAfter} after (1/5/15 min) on ${r.machine.nproc} cores (the 1-minute figure includes the ` +
      'previous gateway\'s load); the gateways ran one after the other under the same conditions.',
    '',
    `Setup: ${r.pinned ? 'gateway pinned to CPU 0; subgraphs (one process) and autocannon pinned to CPU 1' : 'taskset unavailable: nothing pinned'}; ` +
      `Postgres and Redis unpinned. **Subgraph memo ${settings.realSubgraphs ? 'off' : 'on'}**: ${settings.realSubgraphs ? 'every request runs through the real subgraphs (--real-subgraphs).' : 'identical reads (same body, tenant, token kind and scopes) are answered from memory after the first, writes always reach the subgraphs (the gateways are the bottleneck; the `subgraph memo` column says how many reads it answered).'}${settings.redisEveryRequest ? ' Our rate limits ask Redis on every request (--redis-every-request).' : ''} ${settings.accounts} accounts seeded per tenant (2 tenants, ${(r.seedMs / 1000).toFixed(1)} s). ` +
      `autocannon ${settings.connections} connections, ${settings.warmup} s warm-up discarded (mix: ${settings.mixWarmup} s), ${settings.duration} s measured per load; ` +
      `single query: accounts(first: ${settings.first}) with contacts (CRM), balance and invoices (ERP), invoice subscription and subscriptions with plans (billing).`,
    '',
  );
  const mixText = mixDescription(r);
  if (mixText) out.push(mixText, '');
  if (r.parity && r.parity.byGateway.size > 0) out.push(parityText(r.parity), '');
  for (const load of LOADS) out.push(...loadTable(r, load));
  out.push(
    '`gateway CPU %` is the gateway process\'s share of one core in the measured window; `CPU ms/req` divides the CPU time of the ' +
      'gateway process (and of the one subgraphs process) by the responses measured: the cost per request, less sensitive to ' +
      'contention than req/s. `CPU 0 used by others` is the time the gateway\'s core spent on other processes (other work on the ' +
      'machine): the gateway could not have it. Peak RSS is VmHWM over both loads; every process ' +
      'runs through `node --import tsx`, whose loader is part of each figure alike.',
    '',
  );
  if (r.overhead.length > 0) {
    const requests = r.overhead[0]?.requests ?? 0;
    const row = (o: Overhead, name: string, l: OverheadLayout): string[] => [
      `${OVERHEAD_LABELS[o.kind]}`, name, f2(l.direct.p50), f2(l.through.p50), f2(l.through.p50 - l.direct.p50), f2(l.through.p90 - l.direct.p90), f2(l.cpuMsPerRequest),
      `${f2(l.subgraphCpuMs.direct)} / ${f2(l.subgraphCpuMs.through)}`,
    ];
    out.push(
      `Overhead on a single-subgraph query (\`${SINGLE_SUBGRAPH_QUERY}\`, billing), with no benchmark load running: ${requests} sequential ` +
        'requests each way (undici `request`, one keep-alive connection each) in alternating blocks of 20 after 100 warm-up ' +
        'requests, straight to billing (signed claims header) and through each server (bearer JWT). `cross-core`: the server ' +
        'on CPU 0 as in the load test, client and subgraphs on CPU 1; `same core`: the server moved to CPU 1 with them. ' +
        '`passthrough` is no gateway at all, a node:http hop that forwards the body to billing: the floor for any Node server.',
      '',
      md(
        ['server', 'layout', 'direct p50 ms', 'through p50 ms', 'added p50 ms', 'added p90 ms', 'server CPU ms/req', 'subgraphs CPU ms/req direct / through'],
        r.overhead.flatMap((o) => [row(o, 'cross-core', o.crossCore), ...(o.sameCore ? [row(o, 'same core', o.sameCore)] : [])]),
        ['server', 'layout'],
      ),
      '',
      '`server CPU ms/req` is the CPU time of the server process (every thread, user and kernel, from /proc/<pid>/stat) over ' +
        'its blocks divided by its requests; the rest of the added latency is waiting (the extra HTTP hop, Redis, waking a core). ' +
        '`subgraphs CPU` is the same for the subgraphs\' process over the direct blocks and over the blocks through the server.',
      '',
    );
  }
  if (r.profile) {
    const p = r.profile;
    out.push(
      `Profile: our gateway (cache off) once more under the ${p.loadKind} load with \`node --cpu-prof\` ` +
        `(${f1(p.load.rps)} req/s, p50 ${f1(p.load.p50)} ms while profiling). ` +
        `${p.windowed ? 'Samples of the measured window only' : 'Whole process life (the window could not be located)'}: ` +
        `${f1(p.sampledMs)} ms busy, ${f1(p.idleMs)} ms idle. Top self time:`,
      '',
      md(['function', 'where', 'self ms', '% of busy'], p.top.map((t) => [`\`${t.name}\``, t.where, f1(t.ms), f1(t.pct)]), ['where']),
      '',
      'Self time by package:',
      '',
      md(['package', 'self ms', '% of busy'], p.packages.map((k) => [k.name, f1(k.ms), f1(k.pct)])),
      '',
    );
  }
  return out.join('\n');
}

function writeReport(markdown: string): void {
  const block = `${RESULTS_START}\n${markdown}\n${RESULTS_END}`;
  if (!existsSync(REPORT_PATH)) {
    writeFileSync(REPORT_PATH, `# Gateways side by side\n\n${block}\n`);
    return;
  }
  const current = readFileSync(REPORT_PATH, 'utf8');
  const start = current.indexOf(RESULTS_START);
  const end = current.indexOf(RESULTS_END);
  const next = start !== -1 && end > start ? `${current.slice(0, start)}${block}${current.slice(end + RESULTS_END.length)}` : `${current.trimEnd()}\n\n${block}\n`;
  writeFileSync(REPORT_PATH, next);
}

// ---------------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const t0 = performance.now();
  const loadBefore = loadAverage();
  // Before pinning: nproc counts the CPUs this process may use.
  const host = machineFacts();
  const pinned = pinThisProcess(LOAD_CPU);
  const id = runId();
  const redisPrefix = `bench:gw:${id}:`;
  const base: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    JWT_SECRET: randomBytes(32).toString('hex'),
    GATEWAY_SIGNING_SECRET: randomBytes(32).toString('hex'),
    RECONCILE_INTERVAL_SECONDS: '0',
  };
  delete base['DATABASE_URL'];
  delete base['REDIS_URL'];
  const config = loadConfig(base);
  const token = await mintToken(config.jwt, {
    sub: 'bench-user', tenant: BENCH_TENANT, kind: 'user', scopes: SCOPES.filter((s) => s !== 'admin'), ttlSeconds: 3 * 3600,
  });
  const signer = claimsSigner(config.internalSecret);
  const principal = await tokenVerifier(config.jwt)(token);
  const signedClaims = () => signer(principal, { query: SINGLE_SUBGRAPH_QUERY });

  validateMix();
  const principals = settings.loads.includes('mix') ? await mixPrincipals(config.jwt, settings.principals) : [];
  const database = await createDatabase(`bench_gw_${id}`);
  let subgraphs: ChildHandle<z.infer<typeof subgraphsReady>> | undefined;
  let interrupted = false;
  const cleanup = async () => {
    await subgraphs?.stop().catch(() => null);
    await database.drop().catch((err: unknown) => process.stderr.write(`could not drop ${database.name}: ${String(err)}\n`));
    await deleteRedisKeys(redisPrefix).catch(() => 0);
  };
  process.once('SIGINT', () => {
    interrupted = true;
    void cleanup().finally(() => process.exit(130));
  });
  try {
    process.stderr.write(`starting subgraphs on database ${database.name}\n`);
    subgraphs = await startChild('gateways-subgraphs.ts', {
      label: 'subgraphs',
      cpu: LOAD_CPU,
      env: { ...base, DATABASE_URL: database.url, BENCH_ACCOUNTS: String(settings.accounts), BENCH_MEMO_SUBGRAPHS: settings.realSubgraphs ? 'off' : 'on' },
      schema: subgraphsReady,
      stopBy: 'stdin',
      timeoutMs: 180_000,
    });
    const ids: Record<string, TenantIds> = principals.length > 0 ? await discoverIds(subgraphs.info.urls, config.internalSecret) : {};
    const mix = principals.length > 0 ? mixRequests(principals, ids, settings.seed, settings.variants) : null;
    const env: Env = { base, token, urls: subgraphs.info.urls, subgraphsPid: subgraphs.pid, redisPrefix, loads: { token, mix }, partnerOperations: partnerOperationsEnv(principals) };
    const parity = await parityPhase(env, principals, ids);
    process.stderr.write(parityText(parity) + '\n');
    if (settings.parityOnly) return;
    const runs: GatewayRun[] = [];
    const overhead: Overhead[] = [];
    const billing = subgraphs.info.urls.billing;
    const measure = (kind: ServerKind) => async (url: string, pid: number) => {
      process.stderr.write(`${kind}: overhead on a single-subgraph query\n`);
      overhead.push(await measureOverhead(kind, url, pid, env.subgraphsPid, billing, token, signedClaims));
    };
    for (const kind of settings.gateways) {
      // A response-cache hit never reaches the subgraph: ours-cache has no overhead to measure.
      runs.push(await benchGateway(kind, env, kind === 'ours-cache' ? undefined : measure(kind)));
    }
    const passthrough = await startGatewayChild(PASSTHROUGH, env);
    try {
      await measure(PASSTHROUGH)(passthrough.info.url, passthrough.pid);
    } finally {
      await passthrough.stop();
    }
    const profile = settings.profile ? await profileOurs(env) : null;
    const report: Report = {
      command: `npx tsx bench/gateways.ts ${process.argv.slice(2).join(' ')}`.trim(),
      machine: host,
      loadBefore,
      loadAfter: loadAverage(),
      pinned,
      seedMs: subgraphs.info.seedMs,
      runs,
      overhead,
      profile,
      mix,
      principals,
      parity,
      wallSeconds: (performance.now() - t0) / 1000,
      date: new Date().toISOString(),
    };
    const markdown = renderReport(report);
    process.stdout.write(`\n${markdown}\n`);
    for (const run of runs) {
      for (const [load, lr] of Object.entries(run.loads)) {
        if (lr.load.firstFailure) process.stdout.write(`\n${run.kind} ${load}: first failed check: ${lr.load.firstFailure}\n`);
      }
    }
    if (settings.write) {
      writeReport(markdown);
      process.stdout.write(`\nwritten to ${path.relative(ROOT, REPORT_PATH)}\n`);
    }
    // The cached run must be served from the cache: a miss rate means the figures are not what the row says.
    const single = (r: GatewayRun) => r.loads.single?.load;
    const uncached = (r: GatewayRun) => r.kind === 'ours-cache' && (single(r)?.xCache['HIT'] ?? 0) < 0.99 * (single(r)?.requests ?? 0);
    const bad = (l: LoadSummary) => l.sampleFailures > 0 || l.total.mismatches > 0 || l.total.non2xx > 0;
    const failed = runs.filter((r) => Object.values(r.loads).some((lr) => bad(lr.load)) || (parity.byGateway.get(r.kind)?.differences.length ?? 0) > 0 || uncached(r));
    if (failed.length > 0) {
      process.stderr.write(`answers failed their checks for: ${failed.map((r) => r.kind).join(', ')}\n`);
      process.exitCode = 1;
    }
  } finally {
    if (!interrupted) await cleanup();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench/gateways.ts: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
