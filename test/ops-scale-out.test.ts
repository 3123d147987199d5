import { Redis } from 'ioredis';
import pg from 'pg';
import { mintToken } from '../lib/auth/tokens';
import { loadConfig } from '../lib/config';
import { SUBGRAPH_NAMES } from '../lib/schema';
import { TSX, freePort, run, startProcess, type Running } from './support/child';
import { postGraphQL } from './support/http';
import { freshDatabase, type TestDatabase } from './support/postgres';
import { TEST_REDIS_URL, testKeyPrefix } from './support/services';
import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { collect } from './support/ws';

/**
 * Issue 15 item 4: the deployables as separate processes (the four subgraphs, two gateways, two workers) on the real
 * Postgres and Redis, as `npm run subgraph|gateway|worker` start them. Under steady traffic one gateway is taken out
 * of rotation and stopped (SIGTERM drains what it has in flight) and one worker is stopped, then both start again.
 */
const SMALL = '{ accounts(first: 2) { nodes { id name } } }';
const CREATE = 'mutation($n: String!) { createAccount(input: { name: $n, billingAddress: { line1: "1 Rue", city: "Paris", country: "FR" } }) { id } }';
const WATCH = 'subscription($after: ID) { syncStatusChanged(after: $after) { eventId } }';

describe('scale-out: two gateways and two workers as separate processes', () => {
  let database: TestDatabase;
  const prefix = testKeyPrefix(`scale-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  const secret = 'scale-out-jwt-secret-0123456789abcdef0123456789';
  let env: NodeJS.ProcessEnv;
  const processes: Running[] = [];
  const gatewayPorts: number[] = [];
  let gateways: Running[] = [];
  let workers: Running[] = [];
  const spawnRole = (role: string[], extra: NodeJS.ProcessEnv = {}) => {
    // node --import tsx, not the tsx CLI: the CLI relays SIGTERM and SIGKILLs its child when the child does not
    // acknowledge within 30 ms, which a loaded machine misses (exit 143); signals must reach the server itself.
    const p = startProcess(process.execPath, ['--import', 'tsx', 'scripts/serve.ts', ...role], { env: { ...env, SYNC_WORKER_PORT: '0', ...extra } });
    processes.push(p);
    return p;
  };
  const ready = async (port: number, p: Running) => {
    const deadline = Date.now() + 240_000;
    while (!(await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status === 200, () => false))) {
      if (p.child.exitCode !== null || Date.now() > deadline) throw new Error(`not ready on ${port}: ${JSON.stringify(p.output())}`);
      await new Promise((r) => setTimeout(r, 100)); // bounded poll of a readiness endpoint
    }
  };
  const startGatewayOn = async (port: number) => {
    const p = spawnRole(['gateway'], { GATEWAY_PORT: String(port) });
    await ready(port, p);
    return p;
  };
  const startWorker = async () => {
    const p = spawnRole(['worker'], { LOG_LEVEL: 'info' });
    await p.waitFor(/sync worker started/, 240_000);
    return p;
  };

  beforeAll(async () => {
    database = await freshDatabase();
    const subgraphPorts = await Promise.all(SUBGRAPH_NAMES.map(() => freePort()));
    gatewayPorts.push(await freePort(), await freePort());
    env = {
      ...process.env, NODE_ENV: 'test', LOG_LEVEL: 'warn', HOST: '127.0.0.1', DATABASE_URL: database.url, REDIS_URL: TEST_REDIS_URL,
      REDIS_KEY_PREFIX: prefix, JWT_SECRET: secret, SYNC_RETRY_BASE_MS: '50', RECONCILE_INTERVAL_SECONDS: '0',
      RATE_LIMITS: JSON.stringify({ perKind: { partner: 40 }, localDecisionMs: 0 }),
      ...Object.fromEntries(SUBGRAPH_NAMES.flatMap((n, i) => [[`${n.toUpperCase()}_PORT`, String(subgraphPorts[i])], [`${n.toUpperCase()}_URL`, `http://127.0.0.1:${subgraphPorts[i]}/graphql`]])),
    };
    const seeded = await run(TSX, ['scripts/seed.ts', '--accounts', '3', '--tenants', 'acme'], { env });
    expect(seeded.code).toBe(0);
    await Promise.all(SUBGRAPH_NAMES.map((n, i) => ready(subgraphPorts[i] as number, spawnRole(['subgraph', n]))));
    gateways = await Promise.all(gatewayPorts.map(startGatewayOn));
    workers = await Promise.all([startWorker(), startWorker()]);
  }, 900_000);

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop()));
    await database?.drop();
    // Leave nothing of ours in the shared Redis (SCAN, never KEYS).
    const redis = new Redis(TEST_REDIS_URL);
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
    redis.disconnect();
  });

  const token = (opts: { sub?: string; kind?: 'user' | 'partner'; scopes?: string[] } = {}) =>
    mintToken(loadConfig(env).jwt, { sub: opts.sub ?? 'scale-user', tenant: 'acme', kind: opts.kind ?? 'user', scopes: opts.scopes ?? ['crm:read', 'crm:write', 'sync:read'], ttlSeconds: 1800 });
  const url = (i: number) => `http://127.0.0.1:${gatewayPorts[i]}/graphql`;

  it('shares rate limits and the response cache between the gateway processes', async () => {
    const partner = await token({ kind: 'partner', sub: 'scale-partner', scopes: ['crm:read'] });
    let status = 200;
    for (let i = 0; i < 20 && status === 200; i++) status = (await postGraphQL(url(0), SMALL, { token: partner })).status;
    expect(status).toBe(429);
    expect((await postGraphQL(url(1), SMALL, { token: partner })).status).toBe(429);

    const user = await token({ sub: 'cache-user', scopes: ['crm:read'] });
    const first = await postGraphQL(url(0), SMALL, { token: user });
    const second = await postGraphQL(url(1), SMALL, { token: user });
    expect([first.headers.get('x-cache'), second.headers.get('x-cache')]).toEqual(['MISS', 'HIT']);
    expect(second.body.data).toEqual(first.body.data);
  }, 120_000);

  it('a gateway and a worker stopped and restarted under traffic: no failed request, every job run once, every subscriber gets every event once', async () => {
    const user = await token();
    // Subscribers on both gateways, from the start of the ledger.
    const subscribers = [0, 1].map((i) => {
      const client = subscriber(url(i), user);
      return { client, sub: collect(client, WATCH, { after: '0' }) };
    });
    const rotation = new Set([0, 1]);
    const failures: unknown[] = [];
    let sent = 0;
    let stopTraffic = false;
    const traffic = (async () => {
      for (let n = 0; !stopTraffic; n++) {
        // Round robin over the gateways in rotation, as a load balancer that dropped a stopping pod would route.
        const target = [...rotation][n % rotation.size] as number;
        const res = n % 3 === 0 ? await postGraphQL(url(target), CREATE, { token: user, variables: { n: `Scale ${n}` } }) : await postGraphQL(url(target), SMALL, { token: user });
        sent++;
        if (res.status !== 200 || res.body.errors) failures.push({ target, status: res.status, errors: res.body.errors });
      }
    })().catch((err: unknown) => failures.push(String(err)));
    const sentAtLeast = async (n: number) => {
      const deadline = Date.now() + 240_000;
      while (sent < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50)); // waits on the traffic loop's progress
      expect(sent).toBeGreaterThanOrEqual(n);
    };

    await sentAtLeast(15);
    // Gateway 2 leaves the rotation, then gets SIGTERM with whatever it still has in flight (it must drain, exit 0).
    rotation.delete(1);
    expect(await gateways[1]?.stop()).toBe(0);
    // A worker stops too (it finishes its running jobs); traffic goes on against one gateway and one worker.
    expect(await workers[0]?.stop()).toBe(0);
    await sentAtLeast(sent + 15);
    // Both come back; the second gateway's subscriber resumes after the last event it saw.
    await Promise.all([startGatewayOn(gatewayPorts[1] as number), startWorker()]);
    rotation.add(1);
    // Its connection closed with the gateway; what it saw before is final.
    await subscribers[1]?.client.dispose();
    const last = subscribers[1]?.sub.results.at(-1)?.data?.['syncStatusChanged'] as { eventId: string } | undefined;
    const again = subscriber(url(1), user);
    const resumed = { client: again, sub: collect(again, WATCH, { after: last?.eventId ?? '0' }) };
    await sentAtLeast(sent + 15);
    stopTraffic = true;
    await traffic;
    expect(failures).toEqual([]);

    // Every job of the run succeeds, each exactly once (one SUCCEEDED event per job).
    const db = new pg.Client({ connectionString: database.url });
    await db.connect();
    try {
      const settled = async () => (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM sync.jobs WHERE state <> 'SUCCEEDED'")).rows[0]?.n === 0;
      const deadline = Date.now() + 240_000;
      while (!(await settled()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200)); // bounded poll of the ledger
      expect(await settled()).toBe(true);
      const jobs = (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM sync.jobs")).rows[0]?.n ?? 0;
      expect(jobs).toBeGreaterThan(0);
      const doubles = await db.query("SELECT job_id FROM sync.events WHERE state = 'SUCCEEDED' GROUP BY job_id HAVING count(*) <> 1");
      expect(doubles.rows).toEqual([]);
      // Every event, once, on each subscriber (the resumed one counts what it saw before and after the restart).
      const waitSequenced = Date.now() + 60_000;
      while (((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM sync.events WHERE seq IS NULL')).rows[0]?.n ?? 0) > 0 && Date.now() < waitSequenced) await new Promise((r) => setTimeout(r, 200));
      const total = (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM sync.events WHERE tenant_id = 'acme'")).rows[0]?.n ?? 0;
      const ids = (s: ReturnType<typeof collect>) => s.results.map((r) => (r.data?.['syncStatusChanged'] as { eventId: string }).eventId);
      await within(subscribers[0]?.sub.next(total), 120_000);
      const secondSeen = ids(subscribers[1]?.sub as ReturnType<typeof collect>);
      await within(resumed.sub.next(total - secondSeen.length), 120_000);
      const expected = Array.from({ length: total }, (_, i) => String(i + 1));
      expect(ids(subscribers[0]?.sub as ReturnType<typeof collect>)).toEqual(expected);
      expect([...secondSeen, ...ids(resumed.sub)]).toEqual(expected);
    } finally {
      await db.end();
      subscribers[0]?.client.dispose();
      resumed.client.dispose();
    }
  }, 900_000);
});

/** Bounds a wait that has no timeout of its own (a subscription's next n results). */
async function within(promise: Promise<void> | undefined, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise, new Promise<void>((_, reject) => (timer = setTimeout(() => reject(new Error(`not within ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}

/** A graphql-ws client that does not reconnect by itself (the test resumes with `after`) and keeps the expected
 * "server shutting down" close of the stopped gateway off the console. */
function subscriber(httpUrl: string, token: string): Client {
  return createClient({
    url: httpUrl.replace(/^http/, 'ws'), webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${token}` },
    retryAttempts: 0, lazy: false, onNonLazyError: () => undefined,
  });
}
