import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';
import Redis from 'ioredis';
import pg from 'pg';
import { z } from 'zod';
import { READY_KEY, tasksetAvailable } from './host';
import { type GatewayInstanceInfo, gatewayInstanceInfo } from './instance-info';

/**
 * The one harness of bench/: databases and Redis keys of a run, children started and stopped (startChild; the child
 * side is bench/host.ts announceReady / stopWhenStdinEnds), the load runners (graphqlLoad in this process,
 * autocannonProcess in a child), percentiles, machine facts and tables (plain or Markdown). Every bench script uses it.
 */
export {
  READY_KEY, announceReady, cpuSeconds, cpuTimes, pinProcess, pinThisProcess, readMemory, secondsPerTick, stopWhenStdinEnds, systemCpuSeconds, tasksetAvailable,
} from './host';

/** Admin connection of the benchmark Postgres (trust auth); every run creates and drops its own database on it. */
export const ADMIN_POSTGRES_URL = process.env['BENCH_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const BENCH_REDIS_URL = process.env['BENCH_REDIS_URL'] ?? 'redis://127.0.0.1:6379';

const BENCH_DIR = __dirname;
/** The repository root (children run there). */
export const ROOT = path.resolve(BENCH_DIR, '..');

/** A short id unique to this run: database names and Redis key prefixes carry it. */
export function runId(): string {
  return `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
}

export interface BenchDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/** Creates an empty database on the benchmark server; `drop()` removes it even while connections are open. */
export async function createDatabase(name: string): Promise<BenchDatabase> {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`Bad database name "${name}"`);
  const admin = async (sql: string) => {
    const c = new pg.Client({ connectionString: ADMIN_POSTGRES_URL });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(ADMIN_POSTGRES_URL);
  url.pathname = `/${name}`;
  return { name, url: url.toString(), drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

/** Deletes every key of a run (SCAN, never KEYS) on the benchmark Redis; returns how many. */
export async function deleteRedisKeys(prefix: string, url = BENCH_REDIS_URL): Promise<number> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) deleted += await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return deleted;
}

/** An integer command-line option, at least `min`; anything else stops the run with the option's name. */
export function intOption(name: string, raw: string, min = 1): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer of at least ${min}`);
  return n;
}

// ---------------------------------------------------------------------------------------------------------------
// The server under test, in a child process

export interface ServerOptions {
  /** Accounts seeded per tenant. */
  accounts: number;
  tenants?: readonly string[];
  /** Extra configuration for the child (RESPONSE_CACHE, RATE_LIMITS, LOG_LEVEL …). */
  env?: Record<string, string>;
  /** CPU to pin the server to with taskset; undefined leaves it unpinned. */
  cpu?: number;
  /** Node flags for the server process (`--cpu-prof`, ...). */
  nodeArgs?: readonly string[];
  /** Secrets of the run, for gateway instances started beside the stack (startGatewayInstance); random otherwise. */
  secrets?: BenchSecrets;
}

/** The token and claims-signing secrets a stack and its extra gateway instances share. */
export interface BenchSecrets {
  jwt: string;
  signing: string;
}

export const benchSecrets = (): BenchSecrets => ({ jwt: randomBytes(32).toString('hex'), signing: randomBytes(32).toString('hex') });

export const serverInfo = z.object({
  url: z.string().url(),
  token: z.string().min(1),
  database: z.string(),
  redisKeyPrefix: z.string(),
  pid: z.number().int(),
  seedMs: z.number(),
  /** The stack's subgraphs, by name (what extra gateway instances are pointed at). */
  subgraphUrls: z.record(z.string(), z.string().url()),
});
export type ServerInfo = z.infer<typeof serverInfo>;

export interface BenchServer extends ServerInfo {
  pinnedCpu: number | undefined;
  stop(): Promise<void>;
}

/** The ready payload of bench/sync-worker.ts. */
export const workerInfo = z.object({ pid: z.number().int(), worker: z.string() });

export interface ChildHandle<T> {
  info: T;
  /** The child's pid (taskset execs node, so it is the server's own: for /proc polling and profiles). */
  pid: number;
  pinnedCpu: number | undefined;
  /** Asks the child to stop (SIGTERM, or its stdin closed), waits for the exit, SIGKILL after `ms`; the exit code. */
  stop(ms?: number): Promise<number | null>;
}

export interface ChildOptions<T> {
  label: string;
  env: NodeJS.ProcessEnv;
  /** Schema of the payload of the child's ready line (`{"benchReady": payload}` on stdout, bench/host.ts announceReady). */
  schema: z.ZodType<T>;
  /** CPU to pin the child to with taskset (when available). */
  cpu?: number;
  nodeArgs?: readonly string[];
  /** @default 120000 */
  timeoutMs?: number;
  /** How the child is told to stop: SIGTERM (default), or closing its stdin (bench/host.ts stopWhenStdinEnds). */
  stopBy?: 'signal' | 'stdin';
}

const children = new Map<ChildProcess, 'signal' | 'stdin'>();
process.once('exit', () => {
  for (const [c, by] of children) c.kill(by === 'signal' ? 'SIGTERM' : 'SIGKILL');
});

/**
 * The one way bench/ starts a script in a child process: `[taskset -c <cpu>] node [nodeArgs] --import tsx bench/<script>`,
 * resolved with the payload of its ready line. Other output goes to our stderr, prefixed with the label.
 */
export function startChild<T>(script: string, opts: ChildOptions<T>): Promise<ChildHandle<T>> {
  const args = [...(opts.nodeArgs ?? []), '--import', 'tsx', path.join(BENCH_DIR, script)];
  const pin = opts.cpu !== undefined && tasksetAvailable() ? opts.cpu : undefined;
  const [cmd, argv] = pin !== undefined ? ['taskset', ['-c', String(pin), process.execPath, ...args]] : [process.execPath, args];
  const stopBy = opts.stopBy ?? 'signal';
  const child = spawn(cmd, argv, { cwd: ROOT, stdio: [stopBy === 'stdin' ? 'pipe' : 'ignore', 'pipe', 'pipe'], env: opts.env });
  children.set(child, stopBy);
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      children.delete(child);
      resolve(code);
    }),
  );
  const stderrTail: string[] = [];
  child.stderr?.on('data', (chunk: Buffer) => {
    process.stderr.write(`[${opts.label}] ${chunk.toString()}`);
    stderrTail.push(chunk.toString());
    if (stderrTail.length > 50) stderrTail.shift();
  });
  const timeoutMs = opts.timeoutMs ?? 120_000;

  return new Promise<ChildHandle<T>>((resolve, reject) => {
    let ready = false;
    const stdout = child.stdout;
    if (!stdout) throw new Error('child has no stdout');
    const timer = setTimeout(() => {
      if (ready) return;
      child.kill('SIGKILL');
      reject(new Error(`${script} (${opts.label}) was not ready after ${timeoutMs} ms:\n${stderrTail.join('')}`));
    }, timeoutMs);
    createInterface({ input: stdout }).on('line', (line) => {
      if (!ready && line.startsWith(`{"${READY_KEY}"`)) {
        let payload: unknown;
        try {
          payload = (JSON.parse(line) as Record<string, unknown>)[READY_KEY];
        } catch {
          payload = undefined;
        }
        const parsed = opts.schema.safeParse(payload);
        if (!parsed.success) {
          child.kill('SIGKILL');
          reject(new Error(`Unreadable ready line from ${script}: ${line}`));
          return;
        }
        ready = true;
        clearTimeout(timer);
        resolve({
          info: parsed.data,
          pid: child.pid ?? -1,
          pinnedCpu: pin,
          async stop(ms = 60_000) {
            if (child.exitCode === null && child.signalCode === null) {
              if (stopBy === 'stdin') child.stdin?.end();
              else child.kill('SIGTERM');
            }
            const kill = setTimeout(() => child.kill('SIGKILL'), ms);
            const code = await exited;
            clearTimeout(kill);
            if (code !== 0 && code !== null) process.stderr.write(`${script} exited with code ${code}\n`);
            return code;
          },
        });
        return;
      }
      process.stderr.write(`[${opts.label}] ${line}\n`);
    });
    void exited.then((code) => {
      clearTimeout(timer);
      if (!ready) reject(new Error(`${script} (${opts.label}) exited with code ${String(code)} before it was ready:\n${stderrTail.join('')}`));
    });
  });
}

/**
 * Starts bench/serve.ts (fresh database, seeded stack, gateway on an ephemeral port) in a child process, pinned to
 * `cpu` with taskset when available, and resolves once it printed its ready line. `stop()` sends SIGTERM and waits.
 */
export async function startServer(opts: ServerOptions): Promise<BenchServer> {
  const child = await startChild('serve.ts', {
    label: 'server',
    schema: serverInfo,
    cpu: opts.cpu,
    nodeArgs: opts.nodeArgs,
    env: {
      ...process.env,
      ...(opts.secrets ? { BENCH_JWT_SECRET: opts.secrets.jwt, BENCH_SIGNING_SECRET: opts.secrets.signing } : {}),
      // Production mode for the libraries too (graphql-js skips its development instanceof checks, for one).
      NODE_ENV: 'production',
      BENCH_ACCOUNTS: String(opts.accounts),
      BENCH_TENANTS: (opts.tenants ?? ['acme', 'globex']).join(','),
      ...opts.env,
    },
  });
  return { ...child.info, pinnedCpu: child.pinnedCpu, stop: async () => void (await child.stop()) };
}

export interface GatewayInstance extends GatewayInstanceInfo {
  pinnedCpu: number | undefined;
  stop(): Promise<void>;
}

/**
 * Starts one more gateway (bench/serve-gateway.ts, the gateway alone) in its own process, in front of `server`'s
 * subgraphs and on its Redis key prefix, verifying tokens with the same `secrets` the server was started with.
 */
export async function startGatewayInstance(
  server: BenchServer,
  secrets: BenchSecrets,
  opts: { label: string; cpu?: number; nodeArgs?: readonly string[]; env?: Record<string, string> },
): Promise<GatewayInstance> {
  const urls = Object.fromEntries(Object.entries(server.subgraphUrls).map(([name, url]) => [`${name.toUpperCase()}_URL`, url]));
  const child = await startChild('serve-gateway.ts', {
    label: opts.label,
    schema: gatewayInstanceInfo,
    cpu: opts.cpu,
    nodeArgs: opts.nodeArgs,
    // Several instances start at once on a shared machine.
    timeoutMs: 300_000,
    env: {
      ...process.env,
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      JWT_SECRET: secrets.jwt,
      GATEWAY_SIGNING_SECRET: secrets.signing,
      REDIS_URL: BENCH_REDIS_URL,
      REDIS_KEY_PREFIX: server.redisKeyPrefix,
      SUBSCRIPTION_LIMITS: process.env['SUBSCRIPTION_LIMITS'] ?? '{"perPrincipal":5000}',
      ...urls,
      ...opts.env,
    },
  });
  return { ...child.info, pinnedCpu: child.pinnedCpu, stop: async () => void (await child.stop()) };
}

// ---------------------------------------------------------------------------------------------------------------
// Load generation

/** One request of a load: its JSON body and its own headers (a bearer token of its principal, …). */
export interface LoadRequest {
  body: string;
  headers?: Record<string, string>;
}

export interface GraphQLLoad {
  url: string;
  /** Bearer token of every request (a `next` request's own headers override it). */
  token?: string;
  query?: string;
  variables?: Record<string, unknown>;
  /** A fresh request per call (a mix of principals, operations and variables) instead of `query` + `variables`. */
  next?: () => LoadRequest;
  connections: number;
  /** Seconds of load before measuring; responses completed in this time are not counted. */
  warmup: number;
  /** Seconds measured after the warm-up. */
  duration: number;
  /** Runs at the boundary between warm-up and the measured window (CPU readings start there). */
  onMeasureStart?: () => void;
  /** An in-depth check of every `sampleEvery`-th response of the whole run: why it is wrong, or null. */
  check?: (status: number, body: string) => string | null;
  /** @default 10 */
  sampleEvery?: number;
  /** Seconds before autocannon gives up on a response. @default 60 */
  timeout?: number;
}

export interface LoadSummary {
  /** Responses completed in the measured window. */
  requests: number;
  seconds: number;
  rps: number;
  /** Latency percentiles of the measured window, ms. */
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /** Measured window: non-2xx responses and bodies that were not `{"data":…}` without `errors`. */
  non2xx: number;
  mismatches: number;
  /** Whole run, warm-up included: what autocannon counted. */
  total: { responses: number; non2xx: number; mismatches: number; errors: number; timeouts: number };
  /** `x-cache` header values of the measured window (HIT / MISS / none). */
  xCache: Record<string, number>;
  /** Whole run: responses given to `check`, how many failed it, and the first failure (or bad body). */
  sampled: number;
  sampleFailures: number;
  firstFailure: string | null;
}

/** A body passes when it is a data-only GraphQL response: starts with {"data": and has no top-level "errors". */
export function cleanGraphQLBody(body: string): boolean {
  return body.startsWith('{"data":') && !body.includes('"errors":');
}

/** POSTs one GraphQL operation and returns the parsed body (pre-flight checks). */
export async function postGraphQL(
  url: string,
  token: string,
  query: string,
  variables?: Record<string, unknown>,
): Promise<{ status: number; headers: Headers; body: { data?: unknown; errors?: unknown[] } }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as { data?: unknown; errors?: unknown[] } };
}

/**
 * The one in-process load runner of bench/: autocannon against a GraphQL endpoint for warmup + duration seconds in one
 * continuous run (the connections stay busy across the boundary, so no requests abandoned by a separate warm-up run
 * eat into the measured window); only responses completed after the warm-up count. Every response body is checked
 * with cleanGraphQLBody, every `sampleEvery`-th with `check`. Requests still in flight when the run ends are abandoned
 * by autocannon, and the server goes on working on them: let it go idle before the next run.
 */
export async function graphqlLoad(opts: GraphQLLoad): Promise<LoadSummary> {
  const xCache: Record<string, number> = {};
  const latencies: number[] = [];
  let non2xx = 0;
  let mismatches = 0;
  let seen = 0;
  let sampled = 0;
  let sampleFailures = 0;
  let firstFailure: string | null = null;
  let measuring = false;
  let measureFrom = Number.NaN;
  const sampleEvery = opts.sampleEvery ?? 10;
  const boundary = setTimeout(() => {
    measuring = true;
    measureFrom = performance.now();
    opts.onMeasureStart?.();
  }, opts.warmup * 1000);
  const baseHeaders: Record<string, string> = { 'content-type': 'application/json', ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}) };
  const next = opts.next;
  const instance = autocannon({
    url: opts.url,
    connections: opts.connections,
    duration: opts.warmup + opts.duration,
    timeout: opts.timeout ?? 60,
    requests: [
      {
        method: 'POST',
        headers: baseHeaders,
        body: JSON.stringify({ query: opts.query, variables: opts.variables }),
        ...(next
          ? {
              setupRequest: (req: Record<string, unknown>) => {
                const r = next();
                return { ...req, body: r.body, headers: { ...baseHeaders, ...r.headers } };
              },
            }
          : {}),
        onResponse: (status, body, _context, headers) => {
          seen += 1;
          if (opts.check && seen % sampleEvery === 0) {
            sampled += 1;
            const problem = opts.check(status, body);
            if (problem) {
              sampleFailures += 1;
              firstFailure ??= problem;
            }
          }
          if (!measuring) return;
          const v = headers['x-cache'] ?? 'none';
          xCache[v] = (xCache[v] ?? 0) + 1;
        },
      },
    ],
    verifyBody: cleanGraphQLBody,
  });
  instance.on('response', (_client, statusCode, _bytes, responseTime) => {
    if (!measuring) return;
    latencies.push(responseTime);
    if (statusCode < 200 || statusCode >= 300) non2xx += 1;
  });
  instance.on('reqMismatch', (body) => {
    firstFailure ??= `bad body: ${String(body).slice(0, 300)}`;
    if (measuring) mismatches += 1;
  });
  const result = await instance;
  clearTimeout(boundary);
  const seconds = measuring ? (performance.now() - measureFrom) / 1000 : 0;
  latencies.sort((a, b) => a - b);
  return {
    requests: latencies.length,
    seconds,
    rps: seconds > 0 ? latencies.length / seconds : Number.NaN,
    p50: percentile(latencies, 50),
    p90: percentile(latencies, 90),
    p99: percentile(latencies, 99),
    max: latencies[latencies.length - 1] ?? Number.NaN,
    non2xx,
    mismatches,
    total: { responses: result.requests.total, non2xx: result.non2xx, mismatches: result.mismatches, errors: result.errors, timeouts: result.timeouts },
    xCache,
    sampled,
    sampleFailures,
    firstFailure,
  };
}

/** What autocannonProcess reports: request count, latency percentiles (ms) and responses by HTTP status. */
export interface ProcessLoadSummary {
  requests: number;
  p50: number;
  p90: number;
  statuses: Record<string, number>;
}

/**
 * The load runner for benches whose load must not share this process's event loop (the server under test runs in
 * it): one `autocannon --json` run in a child process, one POST body with a bearer token.
 */
export function autocannonProcess(opts: { url: string; token: string; body: string; connections: number; seconds: number }): Promise<ProcessLoadSummary> {
  const bin = path.join(ROOT, 'node_modules', '.bin', 'autocannon');
  const args = [
    '-c', String(opts.connections), '-d', String(opts.seconds), '-m', 'POST', '-H', 'content-type=application/json', '-H', `authorization=Bearer ${opts.token}`, '-b', opts.body, '--json', opts.url,
  ];
  return new Promise((resolve, reject) => {
    execFile(bin, args, { maxBuffer: 16 * 1024 * 1024 }, (err, stdout) => {
      if (err) return reject(err);
      const r = JSON.parse(stdout) as { latency: { p50: number; p90: number }; requests: { total: number }; statusCodeStats?: Record<string, { count: number }> };
      const statuses = Object.fromEntries(Object.entries(r.statusCodeStats ?? {}).map(([code, s]) => [code, s.count]));
      resolve({ p50: r.latency.p50, p90: r.latency.p90, requests: r.requests.total, statuses });
    });
  });
}

/** Latencies of `n` sequential requests on an otherwise idle server, ms, sorted. */
export async function sequentialLatencies(url: string, token: string, query: string, variables: Record<string, unknown> | undefined, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const started = performance.now();
    const res = await postGraphQL(url, token, query, variables);
    out.push(performance.now() - started);
    if (res.status !== 200 || res.body.errors) throw new Error(`sequential request failed: ${JSON.stringify(res.body).slice(0, 400)}`);
  }
  return out.sort((a, b) => a - b);
}

// ---------------------------------------------------------------------------------------------------------------
// Reporting

export interface MachineFacts {
  nproc: string;
  cpu: string;
  node: string;
  kernel: string;
}

/** The CPUs this process may use (call before pinning), the CPU model, node and kernel. */
export function machineFacts(): MachineFacts {
  const cpuinfo = (() => {
    try {
      return readFileSync('/proc/cpuinfo', 'utf8');
    } catch {
      return '';
    }
  })();
  return {
    nproc: spawnSync('nproc', { encoding: 'utf8' }).stdout?.trim() || String(os.availableParallelism()),
    cpu: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'unknown',
    node: process.version,
    kernel: `${os.platform()} ${os.release()}`,
  };
}

export const loadAverage = (): string => os.loadavg().map((l) => l.toFixed(2)).join(' ');

export function machineDescription(): string {
  const m = machineFacts();
  return `nproc ${m.nproc}, CPU "${m.cpu}", node ${m.node}, ${m.kernel}, load average ${loadAverage()}`;
}

export interface TableOptions {
  /** A Markdown table instead of a fixed-width one. */
  markdown?: boolean;
  /** Headers of columns aligned left besides the first (the rest are right-aligned). */
  left?: readonly string[];
}

/** The one table printer of bench/: first column (and those named in `left`) left-aligned, the rest right-aligned. */
export function table(header: readonly string[], rows: readonly (readonly string[])[], opts: TableOptions = {}): string {
  const isLeft = (i: number) => i === 0 || (opts.left ?? []).includes(header[i] ?? '');
  if (opts.markdown) {
    const rule = header.map((_h, i) => (isLeft(i) ? '---' : '---:'));
    return [`| ${header.join(' | ')} |`, `| ${rule.join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (isLeft(i) ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** p-th percentile (0–100) of numbers, nearest-rank. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] ?? Number.NaN;
}
