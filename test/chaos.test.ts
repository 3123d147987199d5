import { createClient } from 'graphql-ws';
import pg from 'pg';
import WebSocket from 'ws';
import { ALL_SCOPES } from './support/stack';
import { mintToken } from '../lib/auth/tokens';
import { loadConfig } from '../lib/config';
import { connectPostgres } from '../lib/db/postgres';
import { migrateAll } from '../subgraphs/registry';
import { seedIfEmpty } from '../scripts/stack';
import { eventually } from './support/eventually';
import { type GraphQLResponse, postGraphQL } from './support/http';
import { type OwnPostgres, ownPostgres } from './support/postgres-server';
import { type ServiceProcess, serviceProcess } from './support/processes';
import { type OwnRedis, freePort, ownRedis } from './support/redis-server';

/**
 * The chaos suite (issue 11): the product as separate processes (gateway, four subgraphs, two sync workers) on a
 * Postgres cluster and a Redis of its own, under steady mixed traffic (mutations with Idempotency-Key, queries, a
 * subscriber), while Postgres restarts, a subgraph is killed and restarted, Redis is killed and restarted and a
 * worker is SIGKILLed mid-job. Nothing is restarted by hand except what the test itself killed.
 */
jest.setTimeout(400_000);

const CREATE = 'mutation($n: String!) { createAccount(input: { name: $n, billingAddress: { line1: "1 Rue", city: "Paris", country: "FR" } }) { id } }';
const WITH_BILLING = '{ accounts(first: 3) { nodes { id name subscriptions { status } } } }';
const WATCH = 'subscription($after: ID) { syncStatusChanged(after: $after) { eventId } }';
/** Codes a client may see while a dependency is away: typed and retryable, never INTERNAL_SERVER_ERROR. */
const RETRYABLE = new Set(['SERVICE_UNAVAILABLE', 'SUBGRAPH_UNAVAILABLE', 'UPSTREAM_UNAVAILABLE']);

describe('chaos: dependencies and processes fail under steady traffic', () => {
  let pgServer: OwnPostgres;
  let redis: OwnRedis;
  const procs: ServiceProcess[] = [];
  let gatewayUrl: string;
  let dbUrl: string;
  let token: string;
  let billing: ServiceProcess;
  let workerA: ServiceProcess;

  // What the traffic saw.
  const acknowledged = new Map<string, string>(); // name -> account id
  const unexpected: string[] = [];
  let running = true;
  const loops: Promise<void>[] = [];
  const events: number[] = [];
  let stopSubscriber: () => void = () => undefined;

  const problem = (what: string, res: GraphQLResponse<unknown>) => {
    const bad = (res.body.errors ?? []).map((e) => String(e.extensions?.['code'])).filter((c) => !RETRYABLE.has(c) && c !== 'RATE_LIMITED');
    if (res.status >= 500 && res.status !== 503) bad.push(`HTTP ${res.status}`);
    if (bad.length > 0) unexpected.push(`${what}: ${bad.join(', ')} ${JSON.stringify(res.body).slice(0, 300)}`);
  };

  /** One client writing: each account is created with its own Idempotency-Key, retried with it until acknowledged. */
  const writer = async (id: number) => {
    for (let n = 0; running; n++) {
      const name = `chaos-${id}-${n}`;
      const key = `chaos-key-${id}-${n}`;
      while (running) {
        const res = await postGraphQL<{ createAccount: { id: string } }>(gatewayUrl, CREATE, { token, variables: { n: name }, headers: { 'idempotency-key': key } }).catch(() => null);
        if (res?.status === 200 && !res.body.errors && res.body.data?.createAccount.id) {
          acknowledged.set(name, res.body.data.createAccount.id);
          break;
        }
        if (res) problem('mutation', res);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };
  const reader = async () => {
    while (running) {
      const res = await postGraphQL(gatewayUrl, WITH_BILLING, { token }).catch(() => null);
      if (res) problem('query', res);
      if (!res || res.status !== 200) await new Promise((r) => setTimeout(r, 100));
    }
  };
  /** A subscriber that resumes after the last event it saw whenever its connection drops. */
  const subscriber = () =>
    new Promise<void>((done) => {
      let stopped = false;
      let dispose: () => void = () => undefined;
      stopSubscriber = () => {
        stopped = true;
        dispose();
        done();
      };
      const connect = () => {
        if (stopped) return;
        const after = events.length ? String(events[events.length - 1]) : null;
        const client = createClient({ url: gatewayUrl.replace(/^http/, 'ws'), webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${token}` }, retryAttempts: 0, lazy: true });
        const again = () => {
          void client.dispose();
          if (stopped) return;
          setTimeout(connect, 200);
        };
        const unsubscribe = client.subscribe<{ syncStatusChanged: { eventId: string } }>(
          { query: WATCH, variables: { after } },
          {
            next: (v) => {
              const eventId = Number(v.data?.syncStatusChanged.eventId);
              if (!events.includes(eventId)) events.push(eventId);
            },
            error: again,
            complete: again,
          },
        );
        dispose = () => {
          unsubscribe();
          void client.dispose();
        };
      };
      connect();
    });

  const ackCount = () => acknowledged.size;
  /** Resolves once `n` more mutations were acknowledged: traffic really flows in this phase. */
  const moreAcks = (n: number, timeoutMs = 60_000) => {
    const target = ackCount() + n;
    return eventually(async () => ackCount() >= target, timeoutMs);
  };

  beforeAll(async () => {
    [pgServer, redis] = await Promise.all([ownPostgres(), ownRedis()]);
    const admin = new pg.Client({ connectionString: pgServer.url });
    await admin.connect();
    await admin.query('CREATE DATABASE chaos');
    await admin.end();
    dbUrl = pgServer.url.replace(/\/postgres$/, '/chaos');
    const db = await connectPostgres(dbUrl, 2);
    await migrateAll(db);
    await seedIfEmpty(db, ['acme'], 3);
    await db.close();

    const ports = { gateway: await freePort(), crm: await freePort(), erp: await freePort(), billing: await freePort(), sync: await freePort() };
    const env: NodeJS.ProcessEnv = {
      NODE_ENV: 'test', LOG_LEVEL: 'warn', DATABASE_URL: dbUrl, REDIS_URL: redis.url, REDIS_KEY_PREFIX: 'chaos:', SYNC_RETRY_BASE_MS: '100',
      RECONCILE_INTERVAL_SECONDS: '0', RESPONSE_CACHE: 'off',
      GATEWAY_PORT: String(ports.gateway), CRM_PORT: String(ports.crm), ERP_PORT: String(ports.erp), BILLING_PORT: String(ports.billing), SYNC_PORT: String(ports.sync),
    };
    const subgraph = (name: 'crm' | 'erp' | 'billing' | 'sync') => serviceProcess({ name, entry: `subgraphs/${name}/main.ts`, env, port: ports[name] });
    billing = subgraph('billing');
    workerA = serviceProcess({ name: 'worker-a', entry: 'subgraphs/sync/worker.ts', env: { ...env, LOG_LEVEL: 'info' } });
    const workerB = serviceProcess({ name: 'worker-b', entry: 'subgraphs/sync/worker.ts', env: { ...env, LOG_LEVEL: 'info' } });
    const subgraphs = [subgraph('crm'), subgraph('erp'), billing, subgraph('sync')];
    // Subgraphs migrate at start: one first, so the others find the schemas in place.
    await subgraphs[0]?.start();
    await Promise.all([...subgraphs.slice(1), workerA, workerB].map((p) => p.start()));
    const gateway = serviceProcess({ name: 'gateway', entry: 'gateway/main.ts', env, port: ports.gateway });
    await gateway.start();
    procs.push(...subgraphs, workerA, workerB, gateway);
    gatewayUrl = `http://127.0.0.1:${ports.gateway}/graphql`;
    token = await mintToken(loadConfig(env).jwt, { sub: 'chaos', tenant: 'acme', kind: 'service', scopes: ALL_SCOPES, ttlSeconds: 3600 });
    await eventually(async () => (await postGraphQL(gatewayUrl, '{ accounts(first: 1) { nodes { id } } }', { token })).status === 200, 60_000);

    loops.push(subscriber(), writer(1), writer(2), reader());
  }, 400_000);

  afterAll(async () => {
    running = false;
    stopSubscriber();
    await Promise.all(loops).catch(() => undefined);
    for (const p of procs) await p.kill('SIGTERM').catch(() => undefined);
    await redis?.stop().catch(() => undefined);
    await pgServer?.destroy();
  });

  it('rides out a Postgres restart', async () => {
    await moreAcks(3);
    await pgServer.stop();
    // The outage lasts while the traffic keeps knocking (each attempt fails fast and typed).
    await eventually(async () => {
      const res = await postGraphQL(gatewayUrl, '{ accounts(first: 1) { nodes { id } } }', { token });
      return res.status === 503 && res.body.errors?.every((e) => e.extensions?.['code'] === 'SERVICE_UNAVAILABLE');
    });
    await pgServer.start();
    await moreAcks(3);
  });

  it('serves partial data with typed errors while a subgraph is down, and recovers when it returns', async () => {
    await billing.kill('SIGKILL');
    const partial = await eventually(async () => {
      const res = await postGraphQL<{ accounts: { nodes: { id: string; subscriptions: unknown }[] } }>(gatewayUrl, WITH_BILLING, { token });
      return res.status === 200 && res.body.data?.accounts.nodes.length ? res : null;
    });
    expect(partial.body.data?.accounts.nodes.every((n) => n.id && n.subscriptions === null)).toBe(true);
    expect(partial.body.errors?.length).toBeGreaterThan(0);
    expect(partial.body.errors?.every((e) => e.extensions?.['code'] === 'SUBGRAPH_UNAVAILABLE')).toBe(true);
    // Writes to the other systems go on meanwhile.
    await moreAcks(2);
    await billing.start();
    await eventually(async () => {
      const res = await postGraphQL(gatewayUrl, WITH_BILLING, { token });
      return res.status === 200 && !res.body.errors;
    });
  });

  it('rides out a Redis kill and restart', async () => {
    await redis.stop();
    await moreAcks(3);
    await redis.start();
    await moreAcks(3);
  });

  it('a worker SIGKILLed mid-job loses nothing: another finishes its jobs', async () => {
    await moreAcks(2);
    await workerA.kill('SIGKILL');
    await moreAcks(3);
    await workerA.start();
    await moreAcks(2);
  });

  it('ends consistent: every acknowledged write committed and propagated once, the subscriber saw every event, no process died', async () => {
    running = false;
    await Promise.all(loops.slice(1));
    const names = [...acknowledged.keys()];
    const ids = [...acknowledged.values()];
    expect(names.length).toBeGreaterThan(20);
    const db = await connectPostgres(dbUrl, 2);
    try {
      // Committed exactly once (the idempotency key made every retry the same write).
      const created = await db.query<{ name: string; n: number }>('SELECT name, count(*)::int AS n FROM crm.accounts WHERE name = ANY($1::text[]) GROUP BY name', [names]);
      expect(created.length).toBe(names.length);
      expect(created.filter((r) => r.n !== 1)).toEqual([]);
      // Propagated once to each system; a worker's lock on a job it died with runs out after 30 s.
      await eventually(async () => {
        const jobs = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM sync.jobs WHERE entity_id = ANY($1::text[]) AND state = 'SUCCEEDED'", [ids]);
        return jobs[0]?.n === ids.length * 2;
      }, 90_000);
      const erp = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM erp.customers WHERE id = ANY($1::text[])', [ids]);
      const bill = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM billing.customers WHERE id = ANY($1::text[])', [ids]);
      expect([erp[0]?.n, bill[0]?.n]).toEqual([ids.length, ids.length]);

      // The subscriber, through every drop, saw a gap-free run of event ids up to the last one relayed.
      const [last] = await db.query<{ seq: string }>("SELECT max(seq)::text AS seq FROM sync.events WHERE tenant_id = 'acme'");
      await eventually(async () => events.length > 0 && events[events.length - 1] === Number(last?.seq), 30_000);
      const sorted = [...events].sort((a, b) => a - b);
      const first = sorted[0] ?? 0;
      // Events relayed while Redis (pub/sub) was down included: the subscription catches up from the ledger.
      expect(sorted).toEqual(Array.from({ length: sorted.length }, (_, i) => first + i));
    } finally {
      stopSubscriber();
      await db.close();
    }
    expect(unexpected).toEqual([]);
    expect(procs.flatMap((p) => p.crashes.map((c) => `${p.name}: ${c.code ?? c.signal} ${c.stderr.slice(-500)}`))).toEqual([]);
    expect(procs.filter((p) => !p.alive).map((p) => p.name)).toEqual([]);
  });
});
