/**
 * Storm mode of bench/subscriptions.ts (`--mode storm`): N subscribers, all live, lose their connections at once (a
 * network blip, a load balancer restart); while they are away, K events are written to the ledger (real rows in
 * sync.events, sequenced and published by the stack's own relay); then every client reconnects at once and resumes
 * with `after` = the last eventId it received. Measured: the time from the reconnect until every subscription has
 * received the last of the K events (every client live again, nothing missed: each counts what it received twice),
 * the server's CPU meanwhile, and how the resumes were served (the gateway's own counters on /metrics: pages read
 * from the ledger, resumes caught up from a fan-out group's recent history, resumes that waited for a ledger read).
 */
import pg from 'pg';
import { type ClientProcess, closeClients, forkClient, sumStatus } from './subscriptions-fork';
import { ADMIN_POSTGRES_URL, type BenchServer, cpuSeconds, startServer } from './support';

const TENANT = 'acme';
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface StormOptions {
  pin: boolean;
  subscribers: number;
  /** Ledger events written while the clients are away (each client replays all of them). */
  events: number;
  perClient: number;
  concurrency: number;
  /** Give up waiting for the clients after this many seconds. */
  budgetSeconds: number;
}

export interface StormResult {
  subscribers: number;
  live: number;
  events: number;
  /** Seconds from the reconnect order to the last subscription having every missed event. */
  liveAgainSeconds: number;
  caughtUp: number;
  duplicates: number;
  serverCpuSeconds: number;
  ledgerReads: number;
  fromHistory: number;
  fromLedger: number;
  connectSeconds: number;
}

async function waitFor<T>(probe: () => Promise<T | null>, timeoutMs: number, what: string): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== null) return value;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

export async function runStorm(opts: StormOptions): Promise<StormResult> {
  const log = (line: string) => process.stdout.write(`  [storm ${opts.subscribers}] ${line}\n`);
  const server: BenchServer = await startServer({ accounts: 1, tenants: [TENANT], cpu: opts.pin ? 0 : undefined, env: { LOG_LEVEL: 'warn' } });
  log(`server ${server.url} (pid ${server.pid}, ${server.database})`);
  const dbUrl = new URL(ADMIN_POSTGRES_URL);
  dbUrl.pathname = `/${server.database}`;
  const db = new pg.Client({ connectionString: dbUrl.toString() });
  await db.connect();
  const clients: ClientProcess[] = [];
  const scalar = async (sql: string, params: unknown[] = []) => String((await db.query<{ v: unknown }>(sql, params)).rows[0]?.v ?? '');
  const sequenced = () => waitFor(async () => ((await scalar('SELECT count(*) AS v FROM sync.events WHERE seq IS NULL')) === '0' ? true : null), 60_000, 'the relay');
  const insertEvents = (job: string, n: number, message: string) =>
    db.query(
      `INSERT INTO sync.events (tenant_id, job_id, kind, entity_type, entity_id, target_system, state, attempts, message, correlation_id)
       SELECT $1, $2, 'ACCOUNT_UPSERT', 'Account', 'bench-storm', 'ERP', 'RUNNING', 1, $3 || g, 'bench-storm' FROM generate_series(1, $4) g`,
      [TENANT, job, message, n],
    );
  try {
    // One real change gives the ledger a job to hang the storm's events on.
    const created = await fetch(server.url, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${server.token}` },
      body: JSON.stringify({ query: 'mutation { createAccount(input: { name: "Storm Co" }) { id } }' }),
    });
    if (!created.ok) throw new Error(`createAccount answered ${created.status}`);
    const job = await waitFor(async () => (await scalar("SELECT id AS v FROM sync.jobs WHERE tenant_id = $1 LIMIT 1", [TENANT])) || null, 60_000, 'a sync job');
    await sequenced();
    const start = await scalar('SELECT COALESCE(max(seq), 0)::text AS v FROM sync.events WHERE tenant_id = $1', [TENANT]);

    const processes = Math.ceil(opts.subscribers / opts.perClient);
    for (let i = 0; i < processes; i++) clients.push(await forkClient(`client ${i + 1}`, opts.pin ? 1 : undefined));
    const connectStarted = performance.now();
    await Promise.all(
      clients.map(async (c, i) => {
        const count = Math.floor(opts.subscribers / processes) + (i < opts.subscribers % processes ? 1 : 0);
        const opened = c.next('opened');
        c.send({ type: 'open', url: server.url, token: server.token, count, concurrency: opts.concurrency, after: start });
        await opened;
      }),
    );
    const connectSeconds = (performance.now() - connectStarted) / 1000;
    // Every subscription live: one warm-up event in the ledger reaches them all.
    await insertEvents(job, 1, `w:0:${now()}:`);
    const status = await waitFor(async () => {
      const s = sumStatus(await Promise.all(clients.map((c) => c.status())));
      return s.warmedUp >= s.connected - s.subscriptionErrors ? s : null;
    }, 120_000, 'the warm-up event');
    log(`${status.warmedUp}/${opts.subscribers} subscriptions live after ${connectSeconds.toFixed(1)} s`);

    // The blip: every connection gone at once; K events happen meanwhile.
    await Promise.all(clients.map(async (c) => {
      const dropped = c.next('dropped');
      c.send({ type: 'drop' });
      await dropped;
    }));
    await insertEvents(job, opts.events, 's:');
    await sequenced();
    const target = await scalar('SELECT max(seq)::text AS v FROM sync.events WHERE tenant_id = $1', [TENANT]);
    log(`all dropped; ${opts.events} events written meanwhile (last eventId ${target}); reconnecting`);

    const counters = async () => {
      const text = await (await fetch(server.url.replace(/\/graphql$/, '/metrics'))).text();
      const read = (pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? 0);
      return {
        ledgerReads: read(/^sor_subscription_ledger_reads_total (\d+)/m),
        fromHistory: read(/^sor_subscription_resumes_total\{source="history"\} (\d+)/m),
        fromLedger: read(/^sor_subscription_resumes_total\{source="ledger"\} (\d+)/m),
      };
    };
    const countersBefore = await counters();
    const cpuBefore = cpuSeconds(server.pid);
    const reconnectAt = now();
    const reports = await Promise.race([
      Promise.all(clients.map(async (c) => {
        const done = c.next('caughtUp');
        c.send({ type: 'reconnect', url: server.url, token: server.token, concurrency: opts.concurrency, target });
        return done;
      })),
      sleep(opts.budgetSeconds * 1000).then(() => null),
    ]);
    const serverCpuSeconds = cpuSeconds(server.pid) - cpuBefore;
    const countersAfter = await counters();
    if (!reports) log(`not every subscription caught up within ${opts.budgetSeconds} s`);
    const liveAgainSeconds = reports ? (Math.max(...reports.map((r) => r.at)) - reconnectAt) / 1000 : Number.NaN;
    return {
      subscribers: opts.subscribers, live: status.warmedUp, events: opts.events, liveAgainSeconds,
      caughtUp: reports ? reports.reduce((n, r) => n + r.caughtUp, 0) : 0, duplicates: reports ? reports.reduce((n, r) => n + r.duplicates, 0) : 0,
      serverCpuSeconds, connectSeconds,
      ledgerReads: countersAfter.ledgerReads - countersBefore.ledgerReads,
      fromHistory: countersAfter.fromHistory - countersBefore.fromHistory,
      fromLedger: countersAfter.fromLedger - countersBefore.fromLedger,
    };
  } finally {
    await closeClients(clients);
    await db.end();
    await server.stop();
  }
}
