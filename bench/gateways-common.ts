/**
 * Pieces shared by bench/gateways.ts (the harness) and its child processes (bench/gateways-subgraphs.ts,
 * bench/gateways-server.ts): the ready-line protocol, CPU-pinned child processes stopped through their stdin, and the
 * claims header, signed per request body, that lets the stock gateways talk to our subgraphs.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import { type ForwardedRequest, claimsSigner } from '../lib/auth/forwarded';
import type { Principal } from '../lib/auth/principal';
import { tasksetAvailable } from './host';

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
// Parent side

export interface Child<T> {
  info: T;
  pid: number;
  /** Closes the child's stdin (its signal to stop) and waits for the exit; SIGKILL after `ms`. */
  stop(ms?: number): Promise<number | null>;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

/**
 * Runs a bench/ script as `taskset -c <cpu> node [nodeArgs] --import tsx bench/<script>` and resolves with the
 * payload of its ready line. taskset execs node, so the child's pid is the server's pid (for /proc polling).
 */
export function startChild<S extends z.ZodType>(
  script: string,
  opts: { label: string; cpu: number | undefined; env: NodeJS.ProcessEnv; schema: S; nodeArgs?: readonly string[]; timeoutMs?: number },
): Promise<Child<z.infer<S>>> {
  const args = [...(opts.nodeArgs ?? []), '--import', 'tsx', path.join(__dirname, script)];
  const pinned = opts.cpu !== undefined && tasksetAvailable();
  const child = pinned
    ? spawn('taskset', ['-c', String(opts.cpu), process.execPath, ...args], { cwd: ROOT, env: opts.env, stdio: ['pipe', 'pipe', 'pipe'] })
    : spawn(process.execPath, args, { cwd: ROOT, env: opts.env, stdio: ['pipe', 'pipe', 'pipe'] });
  live.add(child);
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      live.delete(child);
      resolve(code);
    }),
  );
  const tail: string[] = [];
  child.stderr.on('data', (chunk: Buffer) => {
    process.stderr.write(`[${opts.label}] ${chunk.toString()}`);
    tail.push(chunk.toString());
    if (tail.length > 40) tail.shift();
  });
  return new Promise((resolve, reject) => {
    let ready = false;
    const timer = setTimeout(() => {
      if (ready) return;
      child.kill('SIGKILL');
      reject(new Error(`${script} (${opts.label}) was not ready after ${opts.timeoutMs ?? 120_000} ms:\n${tail.join('')}`));
    }, opts.timeoutMs ?? 120_000);
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (!ready && line.startsWith(`{"${READY_KEY}"`)) {
        const raw: unknown = (JSON.parse(line) as Record<string, unknown>)[READY_KEY];
        const parsed = opts.schema.safeParse(raw);
        if (!parsed.success) {
          child.kill('SIGKILL');
          reject(new Error(`Unreadable ready line from ${script}: ${line}`));
          return;
        }
        ready = true;
        clearTimeout(timer);
        resolve({
          info: parsed.data as z.infer<S>,
          pid: child.pid ?? -1,
          async stop(ms = 15_000) {
            if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
            child.stdin.end();
            const kill = setTimeout(() => child.kill('SIGKILL'), ms);
            const code = await exited;
            clearTimeout(kill);
            return code;
          },
        });
        return;
      }
      process.stderr.write(`[${opts.label}] ${line}\n`);
    });
    void exited.then((code) => {
      clearTimeout(timer);
      if (!ready) reject(new Error(`${script} (${opts.label}) exited with code ${String(code)} before it was ready:\n${tail.join('')}`));
    });
  });
}
