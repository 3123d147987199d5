/**
 * The machine and child-process side of the benchmarks: CPU pinning with taskset, /proc readings of a process, and the
 * ready-line protocol every bench child speaks (bench/support.ts startChild is the parent side). Node built-ins only,
 * so the processes under test (gateways, subgraphs, the stack) can import the modules that import this one without
 * loading the load generator or the Postgres client.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';

let tasksetOk: boolean | undefined;
/** taskset works here and there are at least two CPUs to pin to. */
export function tasksetAvailable(): boolean {
  tasksetOk ??= os.cpus().length >= 2 && spawnSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' }).status === 0;
  return tasksetOk;
}

/** Pins every thread of a process to one CPU; returns false (and changes nothing) without taskset. */
export function pinProcess(pid: number, cpu: number): boolean {
  if (!tasksetAvailable()) return false;
  return spawnSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' }).status === 0;
}

export function pinThisProcess(cpu: number): boolean {
  return pinProcess(process.pid, cpu);
}

/** Removes the SIGINT/SIGTERM handlers that `fn` adds (Apollo Server adds its own outside NODE_ENV=test). */
export async function withoutNewSignalHandlers<T>(fn: () => Promise<T>): Promise<T> {
  const before = { SIGINT: process.listeners('SIGINT'), SIGTERM: process.listeners('SIGTERM') };
  const result = await fn();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    for (const l of process.listeners(signal)) if (!before[signal].includes(l)) process.removeListener(signal, l);
  }
  return result;
}

export interface MemoryReading {
  /** Peak resident set size so far (VmHWM), bytes. */
  hwm: number;
  rss: number;
}

export function readMemory(pid: number): MemoryReading | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN) * 1024;
    return { hwm: kb('VmHWM'), rss: kb('VmRSS') };
  } catch {
    return null;
  }
}

let clockTicks: number | undefined;
/** Jiffies per second of /proc (asked once, when first needed). */
function clkTck(): number {
  if (clockTicks === undefined) {
    const n = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim());
    clockTicks = Number.isFinite(n) && n > 0 ? n : 100;
  }
  return clockTicks;
}

/** Seconds of CPU time per jiffy of /proc. */
export const secondsPerTick = (): number => 1 / clkTck();

/** CPU seconds (user + system) the process has used so far, or NaN once it is gone. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command (which may contain spaces) start at state; utime and stime are fields 14 and 15.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) / clkTck();
  } catch {
    return Number.NaN;
  }
}

/** Kernel-mode CPU seconds of a process (the part of cpuSeconds spent in system calls: socket writes, for one). */
export function systemCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[12]) / clkTck();
  } catch {
    return Number.NaN;
  }
}

/** Jiffies of one CPU from /proc/stat: busy (everything but idle and iowait, steal included) and total. */
export function cpuTimes(cpu: number): { busy: number; total: number } {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith(`cpu${cpu} `));
    const v = (line ?? '').trim().split(/\s+/).slice(1, 9).map(Number);
    const total = v.reduce((a, b) => a + b, 0);
    return { busy: total - (v[3] ?? 0) - (v[4] ?? 0), total };
  } catch {
    return { busy: Number.NaN, total: Number.NaN };
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The child side of bench/support.ts startChild: one ready line, and a stop signal through stdin or SIGTERM

/** Every bench child prints exactly one stdout line `{"benchReady": <payload>}` once it serves. */
export const READY_KEY = 'benchReady';

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
