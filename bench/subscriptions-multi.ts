/**
 * Multi-instance mode of bench/subscriptions.ts (`--mode multi --instances N`): one stack (bench/serve.ts: database,
 * subgraphs, sync worker; its own gateway stays idle) and N more gateway processes (bench/serve-gateway.ts, the
 * gateway alone) on the stack's Redis, with the subscribers spread evenly over the N instances by client processes
 * (bench/subscriptions-client.ts, each talking to one instance). Every subscription is the resumable
 * `syncStatusChanged(after: $after)` without `after` (live), so each instance has one fan-out group.
 *
 *   1. connect and warm up (synthetic events PUBLISHed on the tenant channel until every subscription got one);
 *   2. measured: M synthetic events every --interval ms, consecutive eventIds; per instance: subscribers, deliveries,
 *      p50/p99 publish-to-receipt, CPU µs per delivery (/proc/<pid>/stat of that gateway process), RSS;
 *   3. move: --move of each client process's subscriptions drop at once, --move-events events are published while they
 *      are away, then each reconnects to the NEXT instance ((i + 1) mod N) with `after` = the last eventId it got;
 *      then 3 more live events. Checked: every subscription ends with the last event, no eventId ever skipped
 *      (the client counts a gap whenever an event is not the one after its previous) and none repeated.
 */
import Redis from 'ioredis';
import type { SyncEventModel } from '../subgraphs/sync/ledger/models';
import { type ClientProcess, closeClients, forkClient, sumStatus } from './subscriptions-fork';
import {
  BENCH_REDIS_URL, type BenchServer, type GatewayInstance, benchSecrets, cpuSeconds, percentile, readMemory, startGatewayInstance, startServer, table,
} from './support';
import { type CpuSplit, type FanOutWindow, cpuDelta, cpuSplit, fanOutWindow, scrapeFanOut } from './subscriptions-gauges';

const TENANT = 'acme';
const EVENT_ID_BASE = 1_000_000_000_000n;
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
/** A budget for Promise.race: unref'd, so a finished run does not wait for it before exiting. */
const budget = (ms: number) => new Promise<null>((resolve) => setTimeout(() => resolve(null), ms).unref());

export interface MultiOptions {
  instances: number;
  subscribers: number;
  events: number;
  intervalMs: number;
  perClient: number;
  concurrency: number;
  /** Fraction of each client process's subscriptions that move to the next instance. */
  move: number;
  moveEvents: number;
  stallSeconds: number;
  /** Seconds of subscribed, event-free CPU measured per gateway before the events (baseline for the net figure). */
  idleWindowSeconds: number;
  /** Pin the gateway processes to CPU 0 and the client processes to CPU 1 (taskset), as the one-instance mode does. */
  pin: boolean;
  /** Node flags for the gateway processes (`--cpu-prof --cpu-prof-dir=...`). */
  gatewayNodeArgs?: readonly string[];
}

interface InstanceResult {
  index: number;
  pid: number;
  subscribers: number;
  delivered: number;
  expected: number;
  p50: number;
  p99: number;
  max: number;
  cpuSeconds: number;
  cpu: CpuSplit;
  /** CPU per second of this gateway while subscribed and without events (keep-alive pings, timers). */
  idlePerSecond: CpuSplit;
  fanOut: FanOutWindow;
  rss: { idle: number; subscribed: number; after: number; hwm: number };
  resumes: { history: number; ledger: number };
}

export interface MultiResult {
  instances: InstanceResult[];
  subscribers: number;
  live: number;
  connectSeconds: number;
  drainSeconds: number;
  delivered: number;
  expected: number;
  outOfOrder: number;
  badPayloads: number;
  errors: string[];
  move: { moved: number; caughtUp: number; total: number; seconds: number; budgetExceeded: boolean };
  gaps: number;
  duplicates: number;
  clientCpuSeconds: number;
  stackCpuSeconds: number;
}

function eventJson(id: bigint, message: string): string {
  const event: SyncEventModel = {
    eventId: id.toString(), tenant: TENANT, jobId: '00000000-0000-4000-8000-000000000000', kind: 'ACCOUNT_UPSERT', entityType: 'Account',
    entityId: '00000000-0000-4000-8000-000000000001', targetSystem: 'ERP', state: 'SUCCEEDED', attempts: 1, errorCode: null, message,
    messageParts: null, correlationId: 'bench-subscriptions', at: new Date().toISOString(),
  };
  return JSON.stringify(event);
}

const rssMiB = (pid: number) => (readMemory(pid)?.rss ?? Number.NaN) / 1024 / 1024;

async function resumeCounters(url: string): Promise<{ history: number; ledger: number }> {
  const text = await (await fetch(url.replace(/\/graphql$/, '/metrics'))).text();
  const read = (source: string) => Number(new RegExp(`^sor_subscription_resumes_total\\{source="${source}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
  return { history: read('history'), ledger: read('ledger') };
}

export async function runMulti(opts: MultiOptions): Promise<MultiResult> {
  const log = (line: string) => process.stdout.write(`  [multi ${opts.instances}×] ${line}\n`);
  const secrets = benchSecrets();
  const server: BenchServer = await startServer({ accounts: 1, tenants: [TENANT], secrets, env: { LOG_LEVEL: 'warn' } });
  log(`stack ${server.url} (pid ${server.pid}, ${server.database}, prefix ${server.redisKeyPrefix}); its own gateway stays idle`);
  const channel = `${server.redisKeyPrefix}sync-events:${TENANT}`;
  const publisher = new Redis(BENCH_REDIS_URL, { maxRetriesPerRequest: 1 });
  const gateways: GatewayInstance[] = [];
  const clients: { process: ClientProcess; instance: number; count: number }[] = [];
  try {
    gateways.push(...(await Promise.all(Array.from({ length: opts.instances }, (_, i) => startGatewayInstance(server, secrets, { label: `gateway ${i + 1}`, cpu: opts.pin ? 0 : undefined, nodeArgs: opts.gatewayNodeArgs })))));
    log(`gateway instances: ${gateways.map((g, i) => `${i + 1}: ${g.url} (pid ${g.pid})`).join(', ')}`);
    await sleep(2000);
    const idleRss = gateways.map((g) => rssMiB(g.pid));

    // Subscribers spread evenly over the instances; each client process talks to one instance.
    for (let i = 0; i < opts.instances; i++) {
      const share = Math.floor(opts.subscribers / opts.instances) + (i < opts.subscribers % opts.instances ? 1 : 0);
      const processes = Math.max(1, Math.ceil(share / opts.perClient));
      for (let p = 0; p < processes; p++) {
        const count = Math.floor(share / processes) + (p < share % processes ? 1 : 0);
        if (count > 0) clients.push({ process: await forkClient(`client ${i + 1}.${p + 1}`, opts.pin ? 1 : undefined), instance: i, count });
      }
    }
    const statusAll = async () => Promise.all(clients.map((c) => c.process.status()));
    const connectStarted = performance.now();
    await Promise.all(
      clients.map(async (c) => {
        const opened = c.process.next('opened');
        c.process.send({ type: 'open', url: gateways[c.instance]?.url ?? '', token: server.token, count: c.count, concurrency: opts.concurrency, resumable: true });
        await opened;
      }),
    );
    const connectSeconds = (performance.now() - connectStarted) / 1000;
    let status = sumStatus(await statusAll());
    log(`${status.connected}/${opts.subscribers} connected in ${connectSeconds.toFixed(1)} s (${status.failed} failed, ${status.subscriptionErrors} subscription errors)`);

    let nextId = EVENT_ID_BASE;
    const publish = async (message: string) => {
      await publisher.publish(channel, eventJson(nextId, message));
      nextId += 1n;
    };
    const warmupStarted = performance.now();
    let warmups = 0;
    while (status.warmedUp < status.connected - status.subscriptionErrors && performance.now() - warmupStarted < 120_000) {
      await publish(`w:${warmups++}:${now()}`);
      await sleep(500);
      status = sumStatus(await statusAll());
    }
    const live = status.warmedUp;
    log(`${live} subscriptions live after ${warmups} warm-up event(s)`);
    await sleep(1000);
    const subscribedRss = gateways.map((g) => rssMiB(g.pid));
    const idleStart = gateways.map((g) => cpuSplit(g.pid));
    await sleep(opts.idleWindowSeconds * 1000);
    const idlePerSecond = gateways.map((g, i): CpuSplit => {
      const d = cpuDelta(cpuSplit(g.pid), idleStart[i] ?? { user: 0, kernel: 0 });
      return { user: d.user / opts.idleWindowSeconds, kernel: d.kernel / opts.idleWindowSeconds };
    });
    log(`subscribed, no events, ${opts.idleWindowSeconds} s: gateway CPU ${idlePerSecond.map((c) => `${((c.user + c.kernel) * 100).toFixed(1)}%`).join(', ')} of a core`);

    // Measured events.
    const perInstanceBefore = (await statusAll()).map((s) => s.measured);
    const baseline = status.measured;
    const expected = live * opts.events;
    const scrapesBefore = await Promise.all(gateways.map((g) => scrapeFanOut(g.url)));
    const splitBefore = gateways.map((g) => cpuSplit(g.pid));
    const cpuBefore = gateways.map((g) => cpuSeconds(g.pid));
    const clientCpuBefore = clients.reduce((n, c) => n + cpuSeconds(c.process.pid), 0);
    const stackCpuBefore = cpuSeconds(server.pid);
    const started = performance.now();
    for (let i = 0; i < opts.events; i++) {
      const wait = started + i * opts.intervalMs - performance.now();
      if (wait > 0) await sleep(wait);
      await publish(`m:${i}:${now()}`);
    }
    let lastProgress = performance.now();
    let last = -1;
    for (;;) {
      status = sumStatus(await statusAll());
      const delivered = status.measured - baseline;
      if (delivered >= expected) break;
      if (delivered !== last) {
        last = delivered;
        lastProgress = performance.now();
      } else if (performance.now() - lastProgress > opts.stallSeconds * 1000) {
        log(`no delivery for ${opts.stallSeconds} s: giving up at ${delivered}/${expected}`);
        break;
      }
      await sleep(100);
    }
    const drainSeconds = (performance.now() - started) / 1000;
    const cpuAfter = gateways.map((g) => cpuSeconds(g.pid));
    const splitAfter = gateways.map((g) => cpuSplit(g.pid));
    const scrapesAfter = await Promise.all(gateways.map((g) => scrapeFanOut(g.url)));
    const fanOuts = scrapesAfter.map((after, i) => fanOutWindow(scrapesBefore[i] ?? after, after));
    const clientCpuSeconds = clients.reduce((n, c) => n + cpuSeconds(c.process.pid), 0) - clientCpuBefore;
    const stackCpuSeconds = cpuSeconds(server.pid) - stackCpuBefore;
    const afterRss = gateways.map((g) => rssMiB(g.pid));
    const hwm = gateways.map((g) => (readMemory(g.pid)?.hwm ?? Number.NaN) / 1024 / 1024);
    const perProcess = await statusAll();
    const latencies = await Promise.all(
      clients.map(async (c) => {
        const reply = c.process.next('results');
        c.process.send({ type: 'results' });
        return (await reply).latencies.flat();
      }),
    );
    log(`${status.measured - baseline}/${expected} deliveries in ${drainSeconds.toFixed(1)} s`);

    // Move a share of every client process's subscriptions to the next instance, with `after`.
    const countersBefore = await Promise.all(gateways.map((g) => resumeCounters(g.url)));
    const moving = clients.map((c) => Math.floor(c.count * opts.move));
    const moved = moving.reduce((a, b) => a + b, 0);
    await Promise.all(
      clients.map(async (c, i) => {
        const dropped = c.process.next('dropped');
        c.process.send({ type: 'drop', count: moving[i] ?? 0 });
        await dropped;
      }),
    );
    for (let i = 0; i < opts.moveEvents; i++) {
      await publish(`a:${i}:${now()}`);
      await sleep(opts.intervalMs);
    }
    const target = (nextId - 1n).toString();
    log(`${moved} subscriptions dropped; ${opts.moveEvents} events published meanwhile (last eventId ${target}); reconnecting each to the next instance with \`after\``);
    const moveStarted = performance.now();
    const budgetMs = 300_000;
    const reports = await Promise.race([
      Promise.all(
        clients.map(async (c) => {
          const done = c.process.next('caughtUp');
          c.process.send({ type: 'reconnect', url: gateways[(c.instance + 1) % gateways.length]?.url ?? '', token: server.token, concurrency: opts.concurrency, target });
          return done;
        }),
      ),
      budget(budgetMs),
    ]);
    const moveSeconds = (performance.now() - moveStarted) / 1000;
    // Live again on the new instance: a few more events reach the moved and the staying subscriptions alike.
    for (let i = 0; i < 3; i++) {
      await publish(`a:${opts.moveEvents + i}:${now()}`);
      await sleep(opts.intervalMs);
    }
    const finalTarget = nextId - 1n;
    const deadline = performance.now() + 60_000;
    // Each subscription's last eventId is not reported; the deliveries after the move are counted through gaps and
    // duplicates, and this waits for the storm-style `caughtUp` on the final id.
    const finals = await Promise.race([
      Promise.all(
        clients.map(async (c) => {
          const done = c.process.next('caughtUp');
          c.process.send({ type: 'reconnect', url: gateways[(c.instance + 1) % gateways.length]?.url ?? '', token: server.token, concurrency: opts.concurrency, target: finalTarget.toString() });
          return done;
        }),
      ),
      budget(Math.max(0, deadline - performance.now())),
    ]);
    const countersAfter = await Promise.all(gateways.map((g) => resumeCounters(g.url)));
    status = sumStatus(await statusAll());

    const instances: InstanceResult[] = gateways.map((g, i) => {
      const mine = clients.map((c, k) => ({ c, k })).filter(({ c }) => c.instance === i);
      const sorted = mine.flatMap(({ k }) => latencies[k] ?? []).sort((a, b) => a - b);
      const subscribers = mine.reduce((n, { k }) => n + (perProcess[k]?.warmedUp ?? 0), 0);
      const delivered = mine.reduce((n, { k }) => n + (perProcess[k]?.measured ?? 0) - (perInstanceBefore[k] ?? 0), 0);
      return {
        index: i + 1, pid: g.pid, subscribers, delivered, expected: subscribers * opts.events,
        p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] ?? Number.NaN,
        cpuSeconds: (cpuAfter[i] ?? 0) - (cpuBefore[i] ?? 0),
        cpu: cpuDelta(splitAfter[i] ?? { user: 0, kernel: 0 }, splitBefore[i] ?? { user: 0, kernel: 0 }),
        idlePerSecond: idlePerSecond[i] ?? { user: 0, kernel: 0 },
        fanOut: fanOuts[i] as FanOutWindow,
        rss: { idle: idleRss[i] ?? Number.NaN, subscribed: subscribedRss[i] ?? Number.NaN, after: afterRss[i] ?? Number.NaN, hwm: hwm[i] ?? Number.NaN },
        resumes: {
          history: (countersAfter[i]?.history ?? 0) - (countersBefore[i]?.history ?? 0),
          ledger: (countersAfter[i]?.ledger ?? 0) - (countersBefore[i]?.ledger ?? 0),
        },
      };
    });
    return {
      instances, subscribers: opts.subscribers, live, connectSeconds, drainSeconds,
      delivered: instances.reduce((n, r) => n + r.delivered, 0), expected: instances.reduce((n, r) => n + r.expected, 0),
      outOfOrder: status.outOfOrder, badPayloads: status.badPayloads, errors: status.errorSamples,
      move: {
        moved, caughtUp: finals ? finals.reduce((n, r) => n + r.caughtUp, 0) : 0, total: live,
        seconds: reports ? Math.max(...reports.map((r) => r.at - (performance.timeOrigin + moveStarted))) / 1000 : moveSeconds, budgetExceeded: !reports || !finals,
      },
      gaps: status.gaps, duplicates: status.duplicates, clientCpuSeconds, stackCpuSeconds,
    };
  } finally {
    await closeClients(clients.map((c) => c.process));
    publisher.disconnect();
    await Promise.all(gateways.map((g) => g.stop()));
    await server.stop();
  }
}

/** The report of a multi-instance run: a table per instance, the move, and what 100,000 subscribers would take. */
export function reportMulti(r: MultiResult, opts: MultiOptions): string {
  const ms = (n: number) => (Number.isNaN(n) ? '-' : n === Number.POSITIVE_INFINITY ? '>30000' : n.toFixed(1));
  const us = (i: InstanceResult) => (i.delivered > 0 ? (i.cpuSeconds / i.delivered) * 1e6 : Number.NaN);
  const perDeliveryUs = (i: InstanceResult, s: number) => (i.delivered > 0 ? (s / i.delivered) * 1e6 : Number.NaN);
  // Net of the instance's own subscribed-idle rate over the measured window.
  const netUs = (i: InstanceResult) => perDeliveryUs(i, i.cpuSeconds - (i.idlePerSecond.user + i.idlePerSecond.kernel) * r.drainSeconds);
  const kib = (i: InstanceResult) => (i.subscribers > 0 ? ((i.rss.subscribed - i.rss.idle) * 1024) / i.subscribers : Number.NaN);
  const lines: string[] = [];
  lines.push(
    table(
      [
        'instance', 'pid', 'subscribers', 'delivered/expected', 'p50 ms', 'p99 ms', 'max ms', 'CPU s', 'CPU µs/delivery', 'user+kernel µs', 'idle %core', 'net µs',
        'fan-out p50/p99 ms', 'loop delay max ms', 'RSS idle→subscribed→after MiB', 'KiB/subscriber', 'resumed here (history/ledger)',
      ],
      r.instances.map((i) => [
        String(i.index), String(i.pid), String(i.subscribers), `${i.delivered}/${i.expected}`, ms(i.p50), ms(i.p99), ms(i.max), i.cpuSeconds.toFixed(2), ms(us(i)),
        `${ms(perDeliveryUs(i, i.cpu.user))}+${ms(perDeliveryUs(i, i.cpu.kernel))}`, ((i.idlePerSecond.user + i.idlePerSecond.kernel) * 100).toFixed(1), ms(netUs(i)),
        `${ms(i.fanOut.p50Ms)}/${ms(i.fanOut.p99Ms)}`, ms(i.fanOut.loopLagMaxMs),
        `${i.rss.idle.toFixed(0)}→${i.rss.subscribed.toFixed(0)}→${i.rss.after.toFixed(0)}`, ms(kib(i)), `${i.resumes.history}/${i.resumes.ledger}`,
      ]),
    ),
  );
  lines.push('');
  lines.push(
    `all instances: ${r.delivered}/${r.expected} deliveries of ${opts.events} events to ${r.live} live subscribers in ${r.drainSeconds.toFixed(1)} s; out of order ${r.outOfOrder}, bad payloads ${r.badPayloads}; ` +
      `client processes' CPU ${r.clientCpuSeconds.toFixed(1)} s, the stack process (subgraphs, worker, idle gateway) ${r.stackCpuSeconds.toFixed(1)} s meanwhile`,
  );
  lines.push(
    `move: ${r.move.moved} subscriptions dropped and resumed with \`after\` on the next instance; ${r.move.caughtUp}/${r.move.total} subscriptions reached the last event` +
      `${r.move.budgetExceeded ? ' (NOT all within the budget)' : ''}; moved ones caught up within ${r.move.seconds.toFixed(1)} s of the reconnect; ` +
      `over the whole run: ${r.gaps} skipped eventIds, ${r.duplicates} repeated ones`,
  );
  if (r.errors.length > 0) lines.push(`errors: ${JSON.stringify(r.errors)}`);
  lines.push(
    'fan-out: the gateway\'s own sor_subscription_fanout_seconds per event (group takes the event → write to its last subscriber), bucket-interpolated; ' +
      'loop delay: sor_nodejs_eventloop_lag_max_seconds over the measured window; net µs: CPU minus the instance\'s subscribed-idle rate × the window, per delivery.',
  );
  const perDelivery = r.instances.map(netUs).filter((v) => Number.isFinite(v));
  const worstUs = Math.max(...perDelivery);
  const rate = opts.intervalMs > 0 ? 1000 / opts.intervalMs : Number.NaN;
  const kibs = r.instances.map(kib).filter((v) => Number.isFinite(v));
  const worstKib = Math.max(...kibs);
  const worstGrossUs = Math.max(...r.instances.map(us).filter((v) => Number.isFinite(v)));
  if (Number.isFinite(worstUs) && Number.isFinite(rate)) {
    // Half a core per instance for the fan-out leaves room for handshakes, keep-alives, resumes and GC bursts.
    const perInstance = Math.floor((0.5 * 1e6) / (worstUs * rate));
    // The walk over one event's subscribers is serial in one event loop: the last one waits for all of it. A p99 under
    // 100 ms needs the walk (≈ its CPU on a core of its own) under ~100 ms: at most this many per instance.
    const byLatency = Math.floor(100_000 / worstGrossUs);
    lines.push(
      `sizing (worst instance: ${worstUs.toFixed(1)} µs per delivery net of its idle rate, ${worstGrossUs.toFixed(1)} gross, ${worstKib.toFixed(1)} KiB per subscriber; ${rate} events/s): ` +
        `by CPU, one instance at half a core delivers to ${perInstance} subscribers, so 100,000 need ${Math.ceil(100_000 / perInstance)} instances; ` +
        `by latency (one event's walk within 100 ms at ${worstGrossUs.toFixed(1)} µs each), at most ${byLatency} per instance, so 100,000 need ${Math.ceil(100_000 / byLatency)} instances, each on a core of its own; ` +
        `${((100_000 * worstKib) / 1024).toFixed(0)} MiB of RSS for the subscriptions together, on top of each instance's idle RSS.`,
    );
  }
  return lines.join('\n');
}
