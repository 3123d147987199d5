/**
 * Server-side readings for bench/subscriptions.ts, so that a gateway's figures do not depend on the client processes:
 * its CPU split into user and kernel time (/proc/<pid>/stat), and from its /metrics the fan-out's own timing
 * (`sor_subscription_fanout_seconds`: per live event and group, from the group taking the event to the write to its
 * last subscriber), the deliveries it made (`sor_subscription_deliveries_total`) and the event loop's delay over the
 * window (`sor_nodejs_eventloop_lag_max_seconds` / `_p99_seconds`: prom-client resets them at each scrape, so a scrape
 * at the start of a window makes the one at its end cover that window alone).
 */
import { cpuSeconds, systemCpuSeconds } from './host';

export interface CpuSplit {
  user: number;
  kernel: number;
}

export function cpuSplit(pid: number): CpuSplit {
  const total = cpuSeconds(pid);
  const kernel = systemCpuSeconds(pid);
  return { user: total - kernel, kernel };
}

export const cpuDelta = (after: CpuSplit, before: CpuSplit): CpuSplit => ({ user: after.user - before.user, kernel: after.kernel - before.kernel });

export interface FanOutScrape {
  /** Cumulative bucket counts by upper bound (seconds), `+Inf` last. */
  buckets: [number, number][];
  count: number;
  sum: number;
  deliveries: number;
  loopLagMax: number;
  loopLagP99: number;
}

const metricsUrl = (graphqlUrl: string) => graphqlUrl.replace(/\/graphql$/, '/metrics');

export async function scrapeFanOut(graphqlUrl: string): Promise<FanOutScrape> {
  const text = await (await fetch(metricsUrl(graphqlUrl))).text();
  const value = (name: string) => Number(new RegExp(`^${name}(?:\\{\\})? ([^\\s]+)`, 'm').exec(text)?.[1] ?? Number.NaN);
  const buckets: [number, number][] = [];
  for (const m of text.matchAll(/^sor_subscription_fanout_seconds_bucket\{le="([^"]+)"\} (\S+)/gm)) {
    buckets.push([m[1] === '+Inf' ? Number.POSITIVE_INFINITY : Number(m[1]), Number(m[2])]);
  }
  return {
    buckets, count: value('sor_subscription_fanout_seconds_count'), sum: value('sor_subscription_fanout_seconds_sum'),
    deliveries: value('sor_subscription_deliveries_total'),
    loopLagMax: value('sor_nodejs_eventloop_lag_max_seconds'), loopLagP99: value('sor_nodejs_eventloop_lag_p99_seconds'),
  };
}

export interface FanOutWindow {
  /** Fan-outs (events × groups) in the window. */
  count: number;
  deliveries: number;
  /** Milliseconds; quantiles interpolated within the histogram's buckets, as Prometheus' histogram_quantile does. */
  meanMs: number;
  p50Ms: number;
  p99Ms: number;
  /** Upper bound of the highest non-empty bucket. */
  maxBoundMs: number;
  loopLagMaxMs: number;
  loopLagP99Ms: number;
}

function quantile(buckets: readonly [number, number][], q: number): number {
  const total = buckets[buckets.length - 1]?.[1] ?? 0;
  if (total === 0) return Number.NaN;
  const rank = q * total;
  let prevBound = 0;
  let prevCount = 0;
  for (const [bound, count] of buckets) {
    if (count >= rank) {
      // Beyond the highest finite bound: unknown, reported as "more than" it.
      if (!Number.isFinite(bound)) return Number.POSITIVE_INFINITY;
      return prevBound + ((bound - prevBound) * (rank - prevCount)) / Math.max(1, count - prevCount);
    }
    prevBound = bound;
    prevCount = count;
  }
  return prevBound;
}

/** The fan-outs between two scrapes of the same process (`after` taken last). */
export function fanOutWindow(before: FanOutScrape, after: FanOutScrape): FanOutWindow {
  const buckets = after.buckets.map(([bound, count], i): [number, number] => [bound, count - (before.buckets[i]?.[1] ?? 0)]);
  const count = after.count - before.count;
  let maxBound = Number.NaN;
  for (let i = 0; i < buckets.length; i++) {
    const here = buckets[i]?.[1] ?? 0;
    const below = i === 0 ? 0 : (buckets[i - 1]?.[1] ?? 0);
    if (here > below) maxBound = buckets[i]?.[0] ?? Number.NaN;
  }
  return {
    count, deliveries: after.deliveries - before.deliveries, meanMs: count > 0 ? ((after.sum - before.sum) / count) * 1000 : Number.NaN,
    p50Ms: quantile(buckets, 0.5) * 1000, p99Ms: quantile(buckets, 0.99) * 1000, maxBoundMs: maxBound * 1000,
    loopLagMaxMs: after.loopLagMax * 1000, loopLagP99Ms: after.loopLagP99 * 1000,
  };
}

const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : n === Number.POSITIVE_INFINITY ? '>30000' : '-');

/** One line: the server-side fan-out figures of a window. */
export function describeFanOut(w: FanOutWindow): string {
  return (
    `server-side fan-out per event (${w.count} fan-outs, ${w.deliveries} deliveries): mean ${f1(w.meanMs)} ms, p50 ${f1(w.p50Ms)} ms, p99 ${f1(w.p99Ms)} ms ` +
    `(bucket-interpolated), max <= ${f1(w.maxBoundMs)} ms; event loop delay over the window: p99 ${f1(w.loopLagP99Ms)} ms, max ${f1(w.loopLagMaxMs)} ms`
  );
}

/** CPU per delivery: gross, and net of the process's own rate measured while subscribed and idle (no events). */
export function describeCpu(cpu: CpuSplit, seconds: number, deliveries: number, idlePerSecond: CpuSplit): string {
  const us = (s: number) => f1((s / Math.max(1, deliveries)) * 1e6);
  const netUser = cpu.user - idlePerSecond.user * seconds;
  const netKernel = cpu.kernel - idlePerSecond.kernel * seconds;
  return (
    `CPU ${f1(cpu.user + cpu.kernel)} s in ${f1(seconds)} s (user ${cpu.user.toFixed(2)}, kernel ${cpu.kernel.toFixed(2)}): ${us(cpu.user + cpu.kernel)} µs per delivery gross ` +
    `(user ${us(cpu.user)} + kernel ${us(cpu.kernel)}); idle baseline while subscribed ${((idlePerSecond.user + idlePerSecond.kernel) * 100).toFixed(1)}% of a core; ` +
    `net of it ${us(netUser + netKernel)} µs (user ${us(netUser)} + kernel ${us(netKernel)})`
  );
}
