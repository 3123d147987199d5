/**
 * Gateway throughput with the response cache off and on (`npm run bench:cache`).
 *
 * Starts the full stack twice in a child process (bench/serve.ts: fresh Postgres database, real Redis, RESPONSE_CACHE
 * off then on), pinned to CPU 0 with taskset when available, and drives it with autocannon from this process
 * (pinned to CPU 1). Per server: pre-flight requests for every scenario on the idle server (the answer must be
 * complete and without `errors`; rate-limit cost; median latency of 10 sequential requests), then per scenario one
 * continuous autocannon run of
 * warm-up + measured seconds of which only responses completed after the warm-up are counted, every response body
 * checked to be `{"data":…}` without `errors`. Between scenarios the bench waits for the server to go idle, since
 * autocannon abandons the requests still in flight at the end of a run and the server finishes them anyway.
 *
 * Scenarios: the account 360 of test/account360.test.ts; the same fan-out without the fields the cache cannot
 * store (see ACCOUNT_360_CACHEABLE); and a tiny query that shows the fixed per-request cost of the gateway (JWT,
 * cost analysis, rate limits, and with the cache on one Redis MGET for the write sequence and the entries).
 *
 * Rate limits cannot be turned off by configuration. The account 360 costs ~11,000 points per request against a
 * default budget of 1,000,000 points per minute per user, so both servers run with RATE_LIMITS raised far above
 * what the run can spend; the limiter still runs on every request (and spends in Redis).
 *
 * Steady writes (issue 17 item 4): with the cache on, a read mix (80% one account's 360 by a random id, 20% the
 * cacheable account 360 of the first page) while this process writes `updateAccount` to random accounts at
 * --write-rate per second (each also runs its sync jobs, whose relay evicts again), once with
 * RESPONSE_CACHE_INVALIDATION=tenant (every write evicts the tenant) and once with =entity (only the answers holding
 * the written account). Reports the hit ratio and req/s of each. `--only writes` runs this part alone.
 *
 *   npx tsx bench/cache.ts [--accounts 200] [--connections 50] [--warmup 5] [--duration 15] [--first 20] [--write-rate 20] [--only writes]
 */
import { parseCli } from '../lib/cli';
import { DEFAULT_RATE_LIMITS } from '../gateway/rate-limit';
import {
  type BenchServer, type LoadSummary, cpuSeconds, graphqlLoad, intOption, machineDescription, percentile, pinThisProcess, postGraphQL,
  sequentialLatencies, startServer, table, tasksetAvailable,
} from './support';
import { ACCOUNT_360 } from '../test/support/queries';



/**
 * The same CRM → ERP → billing fan-out without the fields whose types carry no cache hint (Money, ExternalRef,
 * PageInfo: maxAge 0 by default) or maxAge 0 on purpose (syncStatus): the shape the response cache can store today.
 */
const ACCOUNT_360_CACHEABLE = /* GraphQL */ `
  query Account360Cacheable($first: Int!) {
    accounts(first: $first) {
      nodes {
        id name lifecycleStage
        contacts(first: 5) { nodes { id email } }
        opportunities(first: 5, filter: { open: true }) { nodes { id stage } }
        creditStatus
        invoices(first: 5) { nodes { id number status subscription { id status } } }
        payments(first: 5) { nodes { id } }
        subscriptions { id status items { quantity plan { code } } }
      }
    }
  }
`;

const IDLE_SAMPLES = 10;

const fmt = (n: number | undefined, digits = 1): string => (n === undefined || !Number.isFinite(n) ? '-' : n.toFixed(digits));

const TINY = '{ accounts(first: 1) { nodes { id } } }';

interface Scenario {
  name: string;
  query: string;
  variables?: Record<string, unknown>;
  /** Accounts the answer must contain. */
  expectNodes: number;
}

interface Measured {
  scenario: string;
  cache: 'off' | 'on';
  load: LoadSummary;
  /** Server process CPU (user + system) per request, ms, from /proc. */
  cpuMsPerRequest: number | undefined;
  /** Server process CPU utilisation during the measured run, % of one core. */
  cpuPercent: number | undefined;
  /** Rate-limit points one request costs, from the ratelimit-remaining header of two sequential requests. */
  cost: number | undefined;
  cacheControl: string;
  /** Median of sequential requests on the idle server (after the pre-flight, so cached when the cache is on), ms. */
  idleP50: number;
}

const HIGH_LIMITS = JSON.stringify({
  perKind: { user: 1_000_000_000_000, partner: 1_000_000_000_000, service: 1_000_000_000_000 },
  perTenant: 1_000_000_000_000,
});

/** utime + stime of a process in ms, undefined once it is gone. */
function cpuMs(pid: number): number | undefined {
  const seconds = cpuSeconds(pid);
  return Number.isFinite(seconds) ? seconds * 1000 : undefined;
}

/** Waits until the server process uses under 25% of a core over 1 s (at most 60 s); returns the time waited. */
async function waitIdle(pid: number): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < 60_000) {
    const a = cpuMs(pid);
    await new Promise((r) => setTimeout(r, 1000));
    const b = cpuMs(pid);
    if (a === undefined || b === undefined || b - a < 250) return Date.now() - started - 1000;
  }
  return Date.now() - started;
}

function nodeCount(data: unknown): number {
  if (!data || typeof data !== 'object') return -1;
  const accounts = (data as { accounts?: { nodes?: unknown } }).accounts;
  return Array.isArray(accounts?.nodes) ? accounts.nodes.length : -1;
}

async function preflight(server: BenchServer, s: Scenario): Promise<{ cost: number | undefined; xCache: string; cacheControl: string }> {
  const first = await postGraphQL(server.url, server.token, s.query, s.variables);
  if (first.status !== 200 || first.body.errors || nodeCount(first.body.data) !== s.expectNodes) {
    throw new Error(`${s.name}: pre-flight failed (HTTP ${first.status}): ${JSON.stringify(first.body).slice(0, 600)}`);
  }
  const second = await postGraphQL(server.url, server.token, s.query, s.variables);
  if (second.status !== 200 || second.body.errors) throw new Error(`${s.name}: second pre-flight failed: ${JSON.stringify(second.body).slice(0, 600)}`);
  const remaining = (h: Headers) => Number(h.get('ratelimit-remaining'));
  const delta = remaining(first.headers) - remaining(second.headers);
  return {
    cost: Number.isFinite(delta) && delta > 0 ? delta : undefined,
    xCache: second.headers.get('x-cache') ?? '-',
    cacheControl: second.headers.get('cache-control') ?? '-',
  };
}

async function main(): Promise<void> {
  const { values } = parseCli({
    usage: 'npm run bench:cache -- [options]',
    summary: 'Gateway throughput with the response cache off and on (autocannon; needs PostgreSQL and Redis). Figures go to bench/RESULTS.md by hand.',
    options: {
      accounts: { type: 'string', default: '200', description: 'accounts seeded per tenant', placeholder: 'n' },
      connections: { type: 'string', default: '50', description: 'autocannon connections', placeholder: 'n' },
      warmup: { type: 'string', default: '5', description: 'warm-up seconds per scenario (discarded)', placeholder: 's' },
      duration: { type: 'string', default: '15', description: 'measured seconds per scenario', placeholder: 's' },
      first: { type: 'string', default: '20', description: 'page size of the account 360 query', placeholder: 'n' },
      'write-rate': { type: 'string', default: '20', description: 'updateAccount per second during the steady-writes runs', placeholder: 'n' },
      only: { type: 'string', default: 'all', description: '`writes`: only the steady-writes runs', placeholder: 'part' },
    },
  });
  const accounts = intOption('accounts', values.accounts);
  const connections = intOption('connections', values.connections);
  const warmup = intOption('warmup', values.warmup);
  const duration = intOption('duration', values.duration);
  const first = intOption('first', values.first);
  const scenarios: Scenario[] = [
    { name: `account360 (first: ${first})`, query: ACCOUNT_360, variables: { first }, expectNodes: first },
    { name: `account360-cacheable (first: ${first})`, query: ACCOUNT_360_CACHEABLE, variables: { first }, expectNodes: first },
    { name: 'tiny accounts(first: 1)', query: TINY, expectNodes: 1 },
  ];

  // Describe the machine before pinning: nproc reports the CPUs this process may use.
  const machine = machineDescription();
  const pinned = pinThisProcess(1);
  console.log(`# bench:cache — ${new Date().toISOString()}`);
  console.log(`machine: ${machine}`);
  console.log(
    `setup: ${accounts} accounts per tenant (acme, globex), ${connections} connections, ${warmup} s warm-up + ${duration} s measured per scenario; ` +
      `server ${tasksetAvailable() ? 'pinned to CPU 0' : 'unpinned'}, load generator ${pinned ? 'pinned to CPU 1' : 'unpinned'}; ` +
      `Postgres and Redis unpinned on the same machine`,
  );
  console.log(`RATE_LIMITS=${HIGH_LIMITS} (defaults: user ${DEFAULT_RATE_LIMITS.perKind.user} points / ${DEFAULT_RATE_LIMITS.windowSeconds} s)\n`);

  const writeRate = intOption('write-rate', values['write-rate'], 0);
  const results: Measured[] = [];
  for (const cache of values.only === 'writes' ? [] : (['off', 'on'] as const)) {
    const server = await startServer({ accounts, env: { RESPONSE_CACHE: cache, RATE_LIMITS: HIGH_LIMITS }, cpu: 0 });
    console.log(`server RESPONSE_CACHE=${cache}: ${server.url} (pid ${server.pid}, database ${server.database}, started + seeded in ${server.seedMs} ms)`);
    try {
      // Pre-flight every scenario on the idle server: answers complete and error-free, the rate-limit cost from two
      // sequential requests (nothing else spends points meanwhile), then the latency of sequential requests.
      const pres = new Map<string, { cost: number | undefined; cacheControl: string; idleP50: number }>();
      for (const s of scenarios) {
        const pre = await preflight(server, s);
        const idle = await sequentialLatencies(server.url, server.token, s.query, s.variables, IDLE_SAMPLES);
        pres.set(s.name, { ...pre, idleP50: percentile(idle, 50) });
      }
      for (const s of scenarios) {
        const pre = pres.get(s.name);
        if (!pre) throw new Error(`no pre-flight for ${s.name}`);
        // autocannon abandons the requests in flight when a run ends; the server keeps working on them.
        const waited = await waitIdle(server.pid);
        if (waited > 0) console.log(`  (waited ${(waited / 1000).toFixed(1)} s for the server to go idle)`);
        let cpuBefore: number | undefined;
        const sampleAtWindowStart = setTimeout(() => {
          cpuBefore = cpuMs(server.pid);
        }, warmup * 1000);
        const l = await graphqlLoad({ url: server.url, token: server.token, query: s.query, variables: s.variables, connections, warmup, duration });
        clearTimeout(sampleAtWindowStart);
        const cpuAfter = cpuMs(server.pid);
        const cpu = cpuBefore !== undefined && cpuAfter !== undefined ? cpuAfter - cpuBefore : undefined;
        const m: Measured = {
          scenario: s.name,
          cache,
          load: l,
          cpuMsPerRequest: cpu !== undefined && l.requests > 0 ? cpu / l.requests : undefined,
          cpuPercent: cpu !== undefined ? (cpu / (l.seconds * 1000)) * 100 : undefined,
          cost: pre.cost,
          cacheControl: pre.cacheControl,
          idleP50: pre.idleP50,
        };
        results.push(m);
        console.log(
          `  ${s.name.padEnd(34)} ${l.rps.toFixed(1).padStart(8)} req/s  p50 ${fmt(l.p50)} ms  p99 ${fmt(l.p99)} ms  ` +
            `(${l.requests} responses in ${l.seconds.toFixed(1)} s; whole run incl. warm-up: ${JSON.stringify(l.total)}; x-cache ${JSON.stringify(l.xCache)}; ` +
            `cache-control "${pre.cacheControl}"; cost ${pre.cost ?? '?'} points; idle p50 ${fmt(pre.idleP50)} ms; server CPU ${fmt(m.cpuPercent, 0)}%)`,
        );
      }
    } finally {
      await server.stop();
    }
  }

  console.log('\n## Results\n');
  console.log(
    table(
      ['scenario', 'cache', 'req/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'responses', 'non-2xx', 'bad body', 'HIT %', 'idle p50 ms', 'srv CPU %', 'srv CPU ms/req'],
      results.map((r) => {
        const hits = r.load.xCache['HIT'] ?? 0;
        return [
          r.scenario, r.cache, fmt(r.load.rps), fmt(r.load.p50), fmt(r.load.p90), fmt(r.load.p99), fmt(r.load.max),
          String(r.load.requests), String(r.load.non2xx), String(r.load.mismatches),
          r.cache === 'on' && r.load.requests > 0 ? fmt((hits / r.load.requests) * 100) : '-', fmt(r.idleP50), fmt(r.cpuPercent, 0), fmt(r.cpuMsPerRequest, 2),
        ];
      }),
    ),
  );
  console.log('\n## Cached / uncached\n');
  console.log(
    table(
      ['scenario', 'req/s on/off', 'p50 on/off', 'p99 on/off', 'idle p50 on/off', 'cache-control (on)', 'cost (points)'],
      scenarios.map((s) => {
        const off = results.find((r) => r.scenario === s.name && r.cache === 'off');
        const on = results.find((r) => r.scenario === s.name && r.cache === 'on');
        const ratio = (a: number | undefined, b: number | undefined) => (a !== undefined && b ? fmt(a / b, 2) : '-');
        return [
          s.name, ratio(on?.load.rps, off?.load.rps), ratio(on?.load.p50, off?.load.p50), ratio(on?.load.p99, off?.load.p99), ratio(on?.idleP50, off?.idleP50),
          on?.cacheControl ?? '-', String(on?.cost ?? off?.cost ?? '?'),
        ];
      }),
    ),
  );
  if (values.only === 'all' || values.only === 'writes') await steadyWrites({ accounts, connections, warmup, duration, first, writeRate });

  const account360Cost = results.find((r) => r.scenario === scenarios[0]?.name)?.cost;
  if (account360Cost) {
    console.log(
      `\nAt the default limits a user could run ${Math.floor(DEFAULT_RATE_LIMITS.perKind.user / account360Cost)} account-360 queries per ` +
        `${DEFAULT_RATE_LIMITS.windowSeconds} s before 429 (cost ${account360Cost} points each).`,
    );
  }
  const bad = results.filter((r) => r.load.total.non2xx > 0 || r.load.total.mismatches > 0 || r.load.total.errors > 0);
  if (bad.length > 0) {
    console.log(`\nWARNING: ${bad.map((r) => `${r.scenario}/cache ${r.cache}`).join(', ')} had failed or invalid responses (warm-up included); figures above include them.`);
    process.exitCode = 1;
  }
  console.log('\nThe load average is in the machine line above: compare figures within one run only.');
}

/** One account's 360 by id: the read that entity-level eviction keeps cached when other accounts are written. */
const ACCOUNT_BY_ID = /* GraphQL */ `
  query AccountById($id: ID!) {
    account(id: $id) {
      id name lifecycleStage
      contacts(first: 5) { nodes { id email } }
      creditStatus
      invoices(first: 5) { nodes { id number status } }
      subscriptions { id status items { quantity plan { code } } }
    }
  }
`;

async function accountIds(server: BenchServer, n: number): Promise<string[]> {
  const ids: string[] = [];
  let after: string | null = null;
  while (ids.length < n) {
    const res = await postGraphQL(server.url, server.token, 'query($after: String) { accounts(first: 50, after: $after) { nodes { id } pageInfo { hasNextPage endCursor } } }', { after });
    const page = (res.body.data as { accounts: { nodes: { id: string }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } }).accounts;
    ids.push(...page.nodes.map((a) => a.id));
    if (!page.pageInfo.hasNextPage) break;
    after = page.pageInfo.endCursor;
  }
  return ids;
}

/** Writes `updateAccount` to random accounts at `perSecond` until stopped; counts the writes that succeeded. */
function writer(server: BenchServer, ids: readonly string[], perSecond: number): { stop(): Promise<{ ok: number; failed: number }> } {
  let ok = 0;
  let failed = 0;
  const inFlight = new Set<Promise<void>>();
  const timer = setInterval(() => {
    const id = ids[Math.floor(Math.random() * ids.length)];
    const p = postGraphQL(server.url, server.token, 'mutation($id: ID!, $n: String!) { updateAccount(id: $id, input: { owner: $n }) { id owner } }', {
      id, n: `owner-${Date.now()}`,
    })
      .then((r) => void (r.status === 200 && !r.body.errors ? (ok += 1) : (failed += 1)))
      .catch(() => void (failed += 1))
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  }, 1000 / Math.max(perSecond, 0.001));
  return {
    async stop() {
      clearInterval(timer);
      await Promise.all(inFlight);
      return { ok, failed };
    },
  };
}

async function steadyWrites(o: { accounts: number; connections: number; warmup: number; duration: number; first: number; writeRate: number }): Promise<void> {
  console.log(`\n## Steady writes: ${o.writeRate} updateAccount/s to random accounts, cache on, coarse vs entity-level eviction\n`);
  const rows: string[][] = [];
  for (const invalidation of ['tenant', 'entity'] as const) {
    const server = await startServer({ accounts: o.accounts, env: { RESPONSE_CACHE: 'on', RESPONSE_CACHE_INVALIDATION: invalidation, RATE_LIMITS: HIGH_LIMITS }, cpu: 0 });
    try {
      const ids = await accountIds(server, o.accounts);
      const next = () => ({
        body:
          Math.random() < 0.8
            ? JSON.stringify({ query: ACCOUNT_BY_ID, variables: { id: ids[Math.floor(Math.random() * ids.length)] } })
            : JSON.stringify({ query: ACCOUNT_360_CACHEABLE, variables: { first: o.first } }),
      });
      const writes = writer(server, ids, o.writeRate);
      const l = await graphqlLoad({ url: server.url, token: server.token, query: ACCOUNT_BY_ID, connections: o.connections, warmup: o.warmup, duration: o.duration, next });
      const w = await writes.stop();
      const hits = (l.xCache['HIT'] ?? 0) + (l.xCache['COALESCED'] ?? 0);
      const line = [
        invalidation, fmt(l.rps), fmt(l.requests > 0 ? (hits / l.requests) * 100 : undefined), fmt(l.p50), fmt(l.p99), String(l.requests), String(l.non2xx + l.mismatches),
        `${w.ok} ok / ${w.failed} failed`, JSON.stringify(l.xCache),
      ];
      rows.push(line);
      console.log(`  ${line.join('  ')}`);
    } finally {
      await server.stop();
    }
  }
  console.log(`\n${table(['invalidation', 'req/s', 'hit %', 'p50 ms', 'p99 ms', 'responses', 'bad', 'writes (whole run)', 'x-cache'], rows)}`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:cache failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
