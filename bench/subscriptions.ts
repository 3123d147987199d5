/**
 * Fan-out of live sync events to many graphql-ws subscribers on one gateway instance (`npm run bench:subscriptions`).
 *
 * For each subscriber count N:
 *   1. start the whole stack (bench/serve.ts: fresh database, REDIS_URL=redis://127.0.0.1:6379, a unique
 *      REDIS_KEY_PREFIX) in a child process pinned to CPU 0, and read its RSS (/proc/<pid>/status VmRSS, VmHWM),
 *   2. fork ceil(N / --per-client) client processes (bench/subscriptions-client.ts, pinned to CPU 1 with this process)
 *      that open N graphql-ws connections between them, each subscribing to
 *      `subscription { syncStatusChanged { eventId event { state message } } }` (payload-only fields: no query through
 *      the gateway per event),
 *   3. publish warm-up events on Redis until every subscription received one (so every subscription is live), read
 *      the server's RSS again,
 *   4. publish M synthetic events directly on Redis (`PUBLISH <prefix>sync-events:acme <SyncEventModel JSON>`, the
 *      relay's format, consecutive eventIds following the warm-up ones) every --interval ms, each carrying its send
 *      time in `message`, and measure per delivered event the time from just before PUBLISH to its receipt in the client,
 *   5. wait until every subscription received every event (or nothing arrived for --stall s), read RSS and the server's
 *      CPU time, close the clients and stop the server.
 *
 * Server-side figures that do not depend on the client processes (bench/subscriptions-gauges.ts): the server's CPU
 * split into user and kernel, its CPU rate while subscribed with no events (--idle-window s, before the events) and
 * the CPU per delivery net of it, the gateway's own fan-out duration per event (`sor_subscription_fanout_seconds`,
 * p50/p99) and the event loop delay over the measured window. For the gateway alone (no subgraphs or worker in the
 * process), use `--mode multi --instances 1` (the gateway pinned to CPU 0, clients to CPU 1).
 *
 * The server process runs the whole stack (subgraphs, sync worker and the gateway); subscriptions only touch the gateway
 * part, so the RSS growth from step 1 to 3 is the cost of the connections. The gateway allows 5000 subscriptions per
 * tenant per instance (DEFAULT_SUBSCRIPTION_LIMITS), and bench/serve.ts mints a token for one tenant only (acme), so
 * N > 5000 is refused beyond 5000 (reported as subscription errors); it raises the per-subject cap to the tenant's.
 *
 *   npx tsx bench/subscriptions.ts [--subscribers 1000,5000] [--events 50] [--interval 500] [--per-client 2500]
 *     [--concurrency 50] [--pin on|off] [--stall 20] [--drain-budget 90] [--idle-window 12]
 *
 * --interval: ms between measured events (0: all at once); --per-client: connections per client process;
 * --concurrency: WebSocket handshakes in flight per client process; --pin off: no taskset; --stall / --drain-budget:
 * give up waiting for deliveries after that many seconds without progress / after the last PUBLISH.
 *
 * Other modes: `--mode storm` (bench/subscriptions-storm.ts: every subscriber drops and resumes with `after` at once)
 * and `--mode multi --instances N` (bench/subscriptions-multi.ts: the subscribers spread over N gateway processes on
 * one Redis, figures per instance, then a share of them resumes with `after` on another instance).
 * `--profile <dir>` runs the server process(es) with `node --cpu-prof` and leaves the .cpuprofile files there.
 */
import { readFileSync } from 'node:fs';
import { parseCli } from '../lib/cli';
import Redis from 'ioredis';
import type { SyncEventModel } from '../subgraphs/sync/ledger/models';
import { type ClientProcess, closeClients, forkClient, sumStatus } from './subscriptions-fork';
import { type MultiOptions, reportMulti, runMulti } from './subscriptions-multi';
import { type StormResult, runStorm } from './subscriptions-storm';
import { type CpuSplit, type FanOutWindow, cpuDelta, cpuSplit, describeCpu, describeFanOut, fanOutWindow, scrapeFanOut } from './subscriptions-gauges';
import { BENCH_REDIS_URL, type BenchServer, cpuSeconds, systemCpuSeconds, intOption, machineDescription, percentile, pinThisProcess, readMemory, startServer, table, tasksetAvailable } from './support';

const TENANT = 'acme';
/** Far above any id the stack's own relay could assign in this run, so its events (if any) never interleave with ours. */
const EVENT_ID_BASE = 1_000_000_000_000n;

const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------------------------
// /proc readings of the server process

interface Memory {
  rssKiB: number;
  hwmKiB: number;
}

function memoryOf(pid: number): Memory {
  const m = readMemory(pid);
  return { rssKiB: (m?.rss ?? Number.NaN) / 1024, hwmKiB: (m?.hwm ?? Number.NaN) / 1024 };
}

function openFilesLimit(): number {
  try {
    const limits = readFileSync('/proc/self/limits', 'utf8');
    const soft = /^Max open files\s+(\S+)/m.exec(limits)?.[1];
    return soft === undefined || soft === 'unlimited' ? Number.POSITIVE_INFINITY : Number(soft);
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`;

// ---------------------------------------------------------------------------------------------------------------
// One run

interface RunOptions {
  pin: boolean;
  subscribers: number;
  events: number;
  intervalMs: number;
  perClient: number;
  concurrency: number;
  stallSeconds: number;
  drainBudgetSeconds: number;
  /** Seconds of subscribed-but-idle server CPU measured before the events (the baseline for net CPU per delivery). */
  idleWindowSeconds: number;
  serverNodeArgs?: readonly string[];
}

interface RunResult {
  subscribers: number;
  clientProcesses: number;
  connected: number;
  failed: number;
  subscriptionErrors: number;
  /** Subscriptions that received a warm-up event: live when the measurement started. */
  live: number;
  connectSeconds: number;
  warmupEvents: number;
  warmupSeconds: number;
  delivered: number;
  expected: number;
  outOfOrder: number;
  badPayloads: number;
  gaps: number;
  duplicates: number;
  /** Seconds from the first measured PUBLISH to the last delivery (or to giving up). */
  drainSeconds: number;
  latency: { p50: number; p90: number; p99: number; max: number };
  /** Per event, the latency of its last delivery (time to reach every subscriber): median and max over events. */
  fanout: { p50: number; max: number };
  /** Median latency of each measured event, in publication order (shows whether a backlog builds up). */
  perEventP50: number[];
  /** PUBLISH → receipt on a plain Redis subscriber in this (load-generating) process: the Redis hop alone. */
  redisHop: { p50: number; p99: number };
  memory: { idle: Memory; subscribed: Memory; afterEvents: Memory };
  serverCpuSeconds: number;
  /** CPU seconds of the client processes together over the same time. */
  clientCpuSeconds: number;
  /** Server CPU seconds per second before any client connected (the sync worker's polling and the like). */
  idleCpuPerSecond: number;
  /** User and kernel CPU of the server over the measured window, and its rate while subscribed with no events. */
  serverCpu: CpuSplit;
  subscribedIdlePerSecond: CpuSplit;
  /** The server's own timing of each event's fan-out (its /metrics). */
  fanOutServer: FanOutWindow;
  clientRssMiB: number;
  foreignEvents: number;
  errorSamples: string[];
  closeCodes: Record<string, number>;
}

function eventJson(id: bigint, message: string): string {
  const event: SyncEventModel = {
    eventId: id.toString(),
    tenant: TENANT,
    jobId: '00000000-0000-4000-8000-000000000000',
    kind: 'ACCOUNT_UPSERT',
    entityType: 'Account',
    entityId: '00000000-0000-4000-8000-000000000001',
    targetSystem: 'ERP',
    state: 'SUCCEEDED',
    attempts: 1,
    errorCode: null,
    message,
    messageParts: null,
    correlationId: 'bench-subscriptions',
    at: new Date().toISOString(),
  };
  return JSON.stringify(event);
}

async function runOnce(opts: RunOptions): Promise<RunResult> {
  const log = (line: string) => process.stdout.write(`  [${opts.subscribers}] ${line}\n`);
  const server: BenchServer = await startServer({ accounts: 1, tenants: [TENANT], cpu: opts.pin ? 0 : undefined, nodeArgs: opts.serverNodeArgs, env: { LOG_LEVEL: 'warn' } });
  const channel = `${server.redisKeyPrefix}sync-events:${TENANT}`;
  log(`server ${server.url} (pid ${server.pid}${server.pinnedCpu !== undefined ? `, CPU ${server.pinnedCpu}` : ''}, ${server.database}, prefix ${server.redisKeyPrefix}, ready in ${server.seedMs} ms)`);
  const publisher = new Redis(BENCH_REDIS_URL, { maxRetriesPerRequest: 1 });
  const monitor = new Redis(BENCH_REDIS_URL, { maxRetriesPerRequest: 1 });
  const clients: ClientProcess[] = [];
  let foreignEvents = 0;
  const redisHop: number[] = [];
  try {
    // Watch the channel ourselves: the Redis hop alone, and any event the stack's own relay might publish.
    monitor.on('message', (_ch: string, message: string) => {
      const receivedAt = now();
      const parsed = JSON.parse(message) as Partial<SyncEventModel>;
      const [phase, , sentAt] = (parsed.message ?? '').split(':');
      if (phase === 'm' && sentAt !== undefined) redisHop.push(receivedAt - Number(sentAt));
      else if (phase !== 'w') foreignEvents += 1;
    });
    await monitor.subscribe(channel);

    await sleep(1000);
    const idleCpuStart = cpuSeconds(server.pid);
    await sleep(3000);
    const idleCpuPerSecond = (cpuSeconds(server.pid) - idleCpuStart) / 3;
    const idle = memoryOf(server.pid);
    log(`idle server: VmRSS ${mib(idle.rssKiB)}, VmHWM ${mib(idle.hwmKiB)}, CPU ${(idleCpuPerSecond * 100).toFixed(0)}% of a core`);

    // Connect.
    const processes = Math.ceil(opts.subscribers / opts.perClient);
    const clientCpu = opts.pin && tasksetAvailable() ? 1 : undefined;
    for (let i = 0; i < processes; i++) clients.push(await forkClient(`client ${i + 1}`, clientCpu));
    const connectStarted = performance.now();
    const connectCpu = { server: cpuSeconds(server.pid), clients: clients.reduce((sum, c) => sum + cpuSeconds(c.pid), 0) };
    const opened = clients.map((c) => c.next('opened'));
    clients.forEach((c, i) => {
      const count = Math.floor(opts.subscribers / processes) + (i < opts.subscribers % processes ? 1 : 0);
      c.send({ type: 'open', url: server.url, token: server.token, count, concurrency: opts.concurrency });
    });
    let settled = false;
    void Promise.all(opened).then(
      () => (settled = true),
      (err: unknown) => {
        settled = true;
        log(`a client process failed while connecting: ${String(err)}`);
      },
    );
    let status = sumStatus(await Promise.all(clients.map((c) => c.status())));
    let lastReport = performance.now();
    while (!settled && performance.now() - connectStarted < 120_000) {
      await sleep(250);
      if (performance.now() - lastReport >= 5000) {
        status = sumStatus(await Promise.all(clients.map((c) => c.status())));
        log(`… ${status.connected} connected, ${status.failed} failed`);
        lastReport = performance.now();
      }
    }
    const connectSeconds = (performance.now() - connectStarted) / 1000;
    connectCpu.server = cpuSeconds(server.pid) - connectCpu.server;
    connectCpu.clients = clients.reduce((sum, c) => sum + cpuSeconds(c.pid), 0) - connectCpu.clients;
    status = sumStatus(await Promise.all(clients.map((c) => c.status())));
    log(`${status.connected}/${opts.subscribers} connections acknowledged in ${connectSeconds.toFixed(1)} s (CPU meanwhile: server ${connectCpu.server.toFixed(1)} s, client processes ${connectCpu.clients.toFixed(1)} s; ${status.failed} failed, ${status.subscriptionErrors} subscription errors)`);

    // Warm up: every subscription that did not fail must see one event before the measurement starts.
    let nextId = EVENT_ID_BASE;
    let warmupEvents = 0;
    const warmupStarted = performance.now();
    const target = () => status.connected - status.subscriptionErrors;
    while (status.warmedUp < target() && performance.now() - warmupStarted < 60_000) {
      await publisher.publish(channel, eventJson(nextId, `w:${warmupEvents}:${now()}`));
      nextId += 1n;
      warmupEvents += 1;
      await sleep(500);
      status = sumStatus(await Promise.all(clients.map((c) => c.status())));
    }
    const warmupSeconds = (performance.now() - warmupStarted) / 1000;
    const live = status.warmedUp;
    log(`${live} subscriptions live (received a warm-up event) after ${warmupEvents} warm-up event(s), ${warmupSeconds.toFixed(1)} s`);
    await sleep(1000);
    const subscribed = memoryOf(server.pid);
    log(`subscribed server: VmRSS ${mib(subscribed.rssKiB)}, VmHWM ${mib(subscribed.hwmKiB)}`);
    // The server's own background while every subscription is open and no event flows (keep-alive pings every 12 s
    // included), so the CPU per delivery can be taken net of it.
    const idleSplitStart = cpuSplit(server.pid);
    await sleep(opts.idleWindowSeconds * 1000);
    const idleSplit = cpuDelta(cpuSplit(server.pid), idleSplitStart);
    const subscribedIdlePerSecond = { user: idleSplit.user / opts.idleWindowSeconds, kernel: idleSplit.kernel / opts.idleWindowSeconds };
    log(`subscribed, no events, ${opts.idleWindowSeconds} s: server CPU ${((subscribedIdlePerSecond.user + subscribedIdlePerSecond.kernel) * 100).toFixed(1)}% of a core`);

    // Measure.
    const baseline = status.measured;
    const expected = live * opts.events;
    const scrapeBefore = await scrapeFanOut(server.url);
    const splitBefore = cpuSplit(server.pid);
    const cpuBefore = cpuSeconds(server.pid);
    const systemCpuBefore = systemCpuSeconds(server.pid);
    const clientCpuBefore = clients.reduce((sum, c) => sum + cpuSeconds(c.pid), 0);
    const publishStarted = performance.now();
    for (let i = 0; i < opts.events; i++) {
      const due = publishStarted + i * opts.intervalMs;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      await publisher.publish(channel, eventJson(nextId, `m:${i}:${now()}`));
      nextId += 1n;
    }
    const publishSeconds = (performance.now() - publishStarted) / 1000;
    let lastProgress = performance.now();
    let lastDelivered = -1;
    for (;;) {
      status = sumStatus(await Promise.all(clients.map((c) => c.status())));
      const delivered = status.measured - baseline;
      if (delivered >= expected) break;
      if (delivered !== lastDelivered) {
        lastDelivered = delivered;
        lastProgress = performance.now();
      } else if (performance.now() - lastProgress > opts.stallSeconds * 1000) {
        log(`no delivery for ${opts.stallSeconds} s: giving up at ${delivered}/${expected}`);
        break;
      }
      if (performance.now() - publishStarted > publishSeconds * 1000 + opts.drainBudgetSeconds * 1000) {
        log(`still draining ${opts.drainBudgetSeconds} s after the last PUBLISH: giving up at ${delivered}/${expected}`);
        break;
      }
      await sleep(100);
    }
    const drainSeconds = (performance.now() - publishStarted) / 1000;
    const serverCpuSeconds = cpuSeconds(server.pid) - cpuBefore;
    const serverSystemCpuSeconds = systemCpuSeconds(server.pid) - systemCpuBefore;
    const serverCpu = cpuDelta(cpuSplit(server.pid), splitBefore);
    const fanOutServer = fanOutWindow(scrapeBefore, await scrapeFanOut(server.url));
    const clientCpuSeconds = clients.reduce((sum, c) => sum + cpuSeconds(c.pid), 0) - clientCpuBefore;
    const afterEvents = memoryOf(server.pid);
    const delivered = status.measured - baseline;
    log(`${opts.events} events published in ${publishSeconds.toFixed(1)} s; ${delivered}/${expected} deliveries in ${drainSeconds.toFixed(1)} s; server CPU ${serverCpuSeconds.toFixed(1)} s (${serverSystemCpuSeconds.toFixed(1)} s of it in the kernel; ${((serverCpuSeconds / Math.max(1, delivered)) * 1e6).toFixed(1)} µs per delivery), client processes' CPU ${clientCpuSeconds.toFixed(1)} s`);

    const results = await Promise.all(
      clients.map(async (c) => {
        const reply = c.next('results');
        c.send({ type: 'results' });
        return (await reply).latencies;
      }),
    );
    const all: number[] = [];
    const lastPerEvent: number[] = [];
    const perEventP50: number[] = [];
    for (let i = 0; i < opts.events; i++) {
      const ofEvent = results.flatMap((r) => r[i] ?? []).sort((a, b) => a - b);
      all.push(...ofEvent);
      perEventP50.push(percentile(ofEvent, 50));
      const worst = ofEvent[ofEvent.length - 1];
      if (worst !== undefined) lastPerEvent.push(worst);
    }
    all.sort((a, b) => a - b);
    lastPerEvent.sort((a, b) => a - b);
    redisHop.sort((a, b) => a - b);

    return {
      subscribers: opts.subscribers,
      clientProcesses: processes,
      connected: status.connected,
      failed: status.failed,
      subscriptionErrors: status.subscriptionErrors,
      live,
      connectSeconds,
      warmupEvents,
      warmupSeconds,
      delivered,
      expected,
      outOfOrder: status.outOfOrder,
      badPayloads: status.badPayloads,
      gaps: status.gaps,
      duplicates: status.duplicates,
      drainSeconds,
      latency: { p50: percentile(all, 50), p90: percentile(all, 90), p99: percentile(all, 99), max: all[all.length - 1] ?? Number.NaN },
      fanout: { p50: percentile(lastPerEvent, 50), max: lastPerEvent[lastPerEvent.length - 1] ?? Number.NaN },
      perEventP50,
      redisHop: { p50: percentile(redisHop, 50), p99: percentile(redisHop, 99) },
      memory: { idle, subscribed, afterEvents },
      serverCpuSeconds,
      clientCpuSeconds,
      idleCpuPerSecond,
      serverCpu,
      subscribedIdlePerSecond,
      fanOutServer,
      clientRssMiB: status.rssBytes / 1024 / 1024,
      foreignEvents,
      errorSamples: status.errorSamples,
      closeCodes: status.closeCodes,
    };
  } finally {
    await closeClients(clients);
    monitor.disconnect();
    publisher.disconnect();
    await server.stop();
  }
}

// ---------------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const { values } = parseCli({
    usage: 'npm run bench:subscriptions -- [options]',
    summary: 'Fan-out of live sync events to many graphql-ws subscribers on one gateway (needs PostgreSQL and Redis).',
    options: {
      subscribers: { type: 'string', default: '1000,5000', description: 'comma-separated subscriber counts, one run each', placeholder: 'list' },
      events: { type: 'string', default: '50', description: 'measured events per run', placeholder: 'n' },
      interval: { type: 'string', default: '500', description: 'ms between events (0: all at once)', placeholder: 'ms' },
      'per-client': { type: 'string', default: '2500', description: 'connections per client process', placeholder: 'n' },
      concurrency: { type: 'string', default: '50', description: 'WebSocket handshakes in flight per client process', placeholder: 'n' },
      stall: { type: 'string', default: '20', description: 'give up after this many seconds without a delivery', placeholder: 's' },
      'drain-budget': { type: 'string', default: '90', description: 'give up this many seconds after the last event', placeholder: 's' },
      'idle-window': { type: 'string', default: '12', description: 'seconds of subscribed, event-free server CPU measured as the baseline (one keep-alive period: 12)', placeholder: 's' },
      pin: { type: 'string', default: 'on', description: 'on|off: pin server and clients to CPUs with taskset', placeholder: 'on|off' },
      mode: {
        type: 'string', default: 'fanout',
        description: 'fanout: live events to N subscribers; storm: N subscribers drop at once and resume with `after`; multi: N subscribers spread over --instances gateway processes',
        placeholder: 'fanout|storm|multi',
      },
      instances: { type: 'string', default: '2', description: 'multi mode: gateway processes behind one Redis', placeholder: 'n' },
      move: { type: 'string', default: '0.1', description: 'multi mode: share of the subscriptions that drop and resume on the next instance', placeholder: '0..1' },
      'move-events': { type: 'string', default: '20', description: 'multi mode: events published while the moving subscriptions are away', placeholder: 'n' },
      profile: { type: 'string', default: '', description: 'write a V8 CPU profile of the server process(es) (node --cpu-prof) into this directory', placeholder: 'dir' },
      'storm-events': { type: 'string', default: '100', description: 'storm mode: ledger events written while the clients are away', placeholder: 'n' },
      'storm-budget': { type: 'string', default: '300', description: 'storm mode: give up this many seconds after the reconnect', placeholder: 's' },
    },
  });
  const counts = values.subscribers.split(',').map((s) => Number(s.trim()));
  if (counts.some((n) => !Number.isInteger(n) || n < 1)) throw new Error('--subscribers must be a comma-separated list of positive integers');
  const events = intOption('events', values.events, 1);
  const intervalMs = intOption('interval', values.interval, 0);
  const perClient = intOption('per-client', values['per-client'], 1);
  const concurrency = intOption('concurrency', values.concurrency, 1);
  const stallSeconds = intOption('stall', values.stall, 1);
  const drainBudgetSeconds = intOption('drain-budget', values['drain-budget'], 1);
  const idleWindowSeconds = intOption('idle-window', values['idle-window'], 1);

  const instances = intOption('instances', values.instances, 1);
  const needed = Math.ceil(Math.max(...counts) / (values.mode === 'multi' ? instances : 1)) + 1024;
  const limit = openFilesLimit();
  if (limit < needed) {
    throw new Error(`The open-files limit is ${limit}; the server needs one descriptor per connection (${needed} with headroom). Raise it first: ulimit -n ${needed * 2}`);
  }
  const started = Date.now();
  process.stdout.write(`# bench:subscriptions — ${new Date().toISOString()}\n`);
  // Before pinning: nproc reports the CPUs this process may use.
  process.stdout.write(`machine: ${machineDescription()}\n`);
  if (values.pin !== 'on' && values.pin !== 'off') throw new Error('--pin must be on or off');
  const pinned = values.pin === 'on' && pinThisProcess(1);
  if (values.mode === 'storm') {
    const stormEvents = intOption('storm-events', values['storm-events'], 1);
    const budgetSeconds = intOption('storm-budget', values['storm-budget'], 1);
    process.stdout.write(
      `setup: storm mode: subscribers ${counts.join(', ')} (tenant ${TENANT}, one resumable subscription per connection); all live, then every connection dropped at once, ` +
        `${stormEvents} ledger events written meanwhile, then every client reconnects with \`after\` = its last eventId; ` +
        `${pinned ? 'server pinned to CPU 0, client processes to CPU 1' : 'no CPU pinning'}; ${concurrency} handshakes in flight per client process\n\n`,
    );
    const storms: StormResult[] = [];
    for (const subscribers of counts) storms.push(await runStorm({ pin: pinned, subscribers, events: stormEvents, perClient, concurrency, budgetSeconds }));
    process.stdout.write('\n## Results (storm)\n\n');
    process.stdout.write(
      `${table(
        ['subscribers', 'live before', 'missed events', 'caught up', 'live again after s', 'duplicates', 'server CPU s', 'ledger pages read', 'resumed from history', 'resumed by a ledger read', 'first connect s'],
        storms.map((r) => [
          String(r.subscribers), String(r.live), String(r.events), String(r.caughtUp), Number.isNaN(r.liveAgainSeconds) ? '-' : r.liveAgainSeconds.toFixed(1),
          String(r.duplicates), r.serverCpuSeconds.toFixed(1), String(r.ledgerReads), String(r.fromHistory), String(r.fromLedger), r.connectSeconds.toFixed(1),
        ]),
      )}\n\n`,
    );
    process.stdout.write(
      '"live again after": from the reconnect order to the moment the last subscription had received the last missed event (WebSocket handshakes\n' +
        'included); the last three columns are the gateway\'s counters (sor_subscription_ledger_reads_total, sor_subscription_resumes_total).\n' +
        `The load average is in the machine line above. Took ${((Date.now() - started) / 1000).toFixed(0)} s.\n`,
    );
    return;
  }
  const profileArgs = values.profile ? ['--cpu-prof', `--cpu-prof-dir=${values.profile}`] : undefined;
  if (values.mode === 'multi') {
    const move = Number(values.move);
    if (!(move >= 0 && move <= 1)) throw new Error('--move must be a number from 0 to 1');
    process.stdout.write(
      `setup: multi-instance mode: subscribers ${counts.join(', ')} (tenant ${TENANT}, one resumable subscription per connection, live) spread evenly over ${instances} gateway ` +
        `processes (bench/serve-gateway.ts) on one Redis, beside the stack process (subgraphs, worker); ${events} events every ${intervalMs} ms published on Redis; ` +
        `then ${(move * 100).toFixed(0)}% of the subscriptions drop and resume with \`after\` on the next instance while ${values['move-events']} events are published; ` +
        `${pinned && instances === 1 ? 'the gateway process pinned to CPU 0, client processes and publisher to CPU 1, the stack unpinned' : 'nothing pinned (gateways pinned only with --instances 1)'}; at most ${perClient} connections per client process, ${concurrency} handshakes in flight per process; open-files limit ${limit}\n\n`,
    );
    for (const subscribers of counts) {
      const options: MultiOptions = {
        instances, subscribers, events, intervalMs, perClient, concurrency, idleWindowSeconds, pin: pinned && instances === 1, move, moveEvents: intOption('move-events', values['move-events'], 0), stallSeconds, gatewayNodeArgs: profileArgs,
      };
      const result = await runMulti(options);
      process.stdout.write(`\n## Results (multi: ${subscribers} subscribers over ${instances} instances)\n\n${reportMulti(result, options)}\n\n`);
    }
    process.stdout.write(
      'Latency: from just before PUBLISH to receipt in a client process, per delivery; CPU and RSS per gateway process from /proc.\n' +
        `The load average is in the machine line above. Took ${((Date.now() - started) / 1000).toFixed(0)} s.\n`,
    );
    return;
  }
  if (values.mode !== 'fanout') throw new Error('--mode must be fanout, storm or multi');
  process.stdout.write(
    `setup: subscribers ${counts.join(', ')} (tenant ${TENANT}, one subscription per connection); ${events} events every ${intervalMs} ms published on Redis after the warm-up; ` +
      `${pinned ? 'server pinned to CPU 0, client processes and publisher to CPU 1' : `no CPU pinning (${values.pin === 'off' ? '--pin off' : 'taskset unavailable'})`}; Postgres and Redis unpinned on the same machine; ` +
      `at most ${perClient} connections per client process, ${concurrency} handshakes in flight per process; open-files limit ${limit}\n\n`,
  );

  const results: RunResult[] = [];
  for (const subscribers of counts) {
    results.push(await runOnce({ pin: pinned, subscribers, events, intervalMs, perClient, concurrency, stallSeconds, drainBudgetSeconds, idleWindowSeconds, serverNodeArgs: profileArgs }));
    const r = results[results.length - 1];
    if (r && (r.errorSamples.length > 0 || r.foreignEvents > 0)) {
      process.stdout.write(`  [${subscribers}] errors: ${JSON.stringify(r.errorSamples)}; close codes ${JSON.stringify(r.closeCodes)}; foreign events on the channel: ${r.foreignEvents}\n`);
    }
  }

  const ms = (n: number) => (Number.isNaN(n) ? '-' : n.toFixed(1));
  process.stdout.write('\n## Results\n\n');
  process.stdout.write(
    `${table(
      ['subscribers', 'connected', 'live', 'delivered/expected', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'last-delivery p50 ms', 'drain s', 'server CPU s'],
      results.map((r) => [
        String(r.subscribers), `${r.connected}`, `${r.live}`, `${r.delivered}/${r.expected}`,
        ms(r.latency.p50), ms(r.latency.p90), ms(r.latency.p99), ms(r.latency.max), ms(r.fanout.p50), r.drainSeconds.toFixed(1), r.serverCpuSeconds.toFixed(1),
      ]),
    )}\n\n`,
  );
  process.stdout.write(
    `${table(
      ['subscribers', 'RSS idle', 'RSS subscribed', 'RSS after events', 'HWM subscribed', 'HWM after events', 'RSS growth / connection', 'connect s', 'warm-up events'],
      results.map((r) => [
        String(r.subscribers), mib(r.memory.idle.rssKiB), mib(r.memory.subscribed.rssKiB), mib(r.memory.afterEvents.rssKiB), mib(r.memory.subscribed.hwmKiB), mib(r.memory.afterEvents.hwmKiB),
        `${(((r.memory.subscribed.rssKiB - r.memory.idle.rssKiB) / Math.max(1, r.live))).toFixed(1)} KiB`, r.connectSeconds.toFixed(1), String(r.warmupEvents),
      ]),
    )}\n\n`,
  );
  for (const r of results) {
    process.stdout.write(
      `${r.subscribers}: ${r.clientProcesses} client process(es) (${r.clientRssMiB.toFixed(0)} MiB RSS together); failed connections ${r.failed}, subscription errors ${r.subscriptionErrors}, ` +
        `out of order ${r.outOfOrder}, skipped eventIds ${r.gaps}, repeated ${r.duplicates}, bad payloads ${r.badPayloads}; last delivery per event: p50 ${ms(r.fanout.p50)} ms, max ${ms(r.fanout.max)} ms; ` +
        `Redis hop (PUBLISH → a plain subscriber in the publishing process): p50 ${ms(r.redisHop.p50)} ms, p99 ${ms(r.redisHop.p99)} ms\n` +
        `  server CPU while idle before connecting: ${(r.idleCpuPerSecond * 100).toFixed(0)}% of a core; during the events: ${r.serverCpuSeconds.toFixed(2)} s in ${r.drainSeconds.toFixed(1)} s; client processes during the events: ${r.clientCpuSeconds.toFixed(2)} s\n` +
        `  server (whole stack process) ${describeCpu(r.serverCpu, r.drainSeconds, r.delivered, r.subscribedIdlePerSecond)}\n` +
        `  ${describeFanOut(r.fanOutServer)}\n` +
        `  median latency per event, in publication order (ms): ${r.perEventP50.map((v) => ms(v)).join(' ')}\n`,
    );
  }
  process.stdout.write(
    '\nLatency: from just before PUBLISH to receipt in a client process, per delivery (subscription × event); it includes the client processes\' own\n' +
      'event-loop queueing. RSS is of the server process, which runs the whole stack (subgraphs, sync worker, gateway).\n' +
      `The load average is in the machine line above. Took ${((Date.now() - started) / 1000).toFixed(0)} s.\n`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`bench/subscriptions.ts: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
