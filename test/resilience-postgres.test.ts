import pg from 'pg';
import { ALL_SCOPES } from './support/stack';
import { mintToken } from '../lib/auth/tokens';
import { type Config, loadConfig } from '../lib/config';
import { connectPostgres } from '../lib/db/postgres';
import { errorCode } from '../lib/errors';
import { createLogger } from '../lib/logger';
import { type Stack, startStack } from '../scripts/stack';
import { postGraphQL } from './support/http';
import { type OwnPostgres, ownPostgres } from './support/postgres-server';
import { type ServiceProcess, serviceProcess } from './support/processes';
import { TEST_REDIS_URL, testKeyPrefix } from './support/services';
import { eventually } from './support/eventually';

/**
 * Issue 11, item 4: a Postgres restart under load must not take any process down; during the outage answers are
 * typed and retryable (SERVICE_UNAVAILABLE, 503 without data), and work resumes by itself.
 */
describe('a Postgres restart', () => {
  let server: OwnPostgres;
  let config: Config;
  let stack: Stack;
  let worker: ServiceProcess;
  let token: string;

  beforeAll(async () => {
    server = await ownPostgres();
    const admin = new pg.Client({ connectionString: server.url });
    await admin.connect();
    await admin.query('CREATE DATABASE product');
    await admin.end();
    const url = server.url.replace(/\/postgres$/, '/product');
    const env = {
      NODE_ENV: 'test', LOG_LEVEL: 'silent', DATABASE_URL: url, REDIS_URL: TEST_REDIS_URL,
      REDIS_KEY_PREFIX: testKeyPrefix(`pg-restart-${process.pid}`), SYNC_RETRY_BASE_MS: '50',
    } as const;
    config = loadConfig(env);
    stack = await startStack({ config, logger: createLogger('silent', 'test'), seed: { tenants: ['acme'], accounts: 3 }, ephemeralPorts: true });
    // The in-process engine is stopped so that the worker process is the one that has to survive and carry on.
    await stack.sync.stop();
    worker = serviceProcess({ name: 'sync-worker', entry: 'subgraphs/sync/worker.ts', env: { ...env, LOG_LEVEL: 'info' } });
    await worker.start();
    token = await mintToken(config.jwt, { sub: 'ops', tenant: 'acme', kind: 'user', scopes: ALL_SCOPES, ttlSeconds: 600 });
  }, 120_000);

  afterAll(async () => {
    await worker?.kill();
    await stack?.stop();
    await server?.destroy();
  });

  it('fails a transaction whose connection dies with a retryable SERVICE_UNAVAILABLE and discards the client; the process lives on', async () => {
    const db = await connectPostgres(server.url, 2);
    let holding: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (holding = resolve));
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    // A transaction is checked out (the pool's idle listener is not on it) when the server goes away.
    const tx = db.transaction(async (q) => {
      await q.query('SELECT 1');
      holding();
      await released;
      return q.query('SELECT 2');
    });
    const outcome = tx.then(() => 'committed', (err: unknown) => errorCode(err));
    await held;
    await server.stop();
    release();
    expect(await outcome).toBe('SERVICE_UNAVAILABLE');
    await expect(db.query('SELECT 1')).rejects.toMatchObject({ extensions: { code: 'SERVICE_UNAVAILABLE', retryable: true } });

    // Through the gateway: no data anywhere, so 503 and the typed code, not the driver's message.
    const down = await postGraphQL(stack.gateway.url, '{ accounts(first: 1) { nodes { id } } }', { token });
    expect(down.status).toBe(503);
    expect(down.body.errors?.map((e) => e.extensions?.['code'])).toEqual(['SERVICE_UNAVAILABLE']);
    expect(JSON.stringify(down.body)).not.toMatch(/ECONNREFUSED|terminat/i);
    // A vendor webhook on the sync service: the same typed, retryable answer (it was a bare 500), nothing stored.
    const hook = await fetch(stack.subgraphs.sync.url.replace(/\/graphql$/, '/webhooks/stripe/conn_during_outage'), {
      method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': 't=1,v1=00' }, body: '{"id":"evt_1"}',
    });
    expect(hook.status).toBe(503);
    const hookBody = await hook.text();
    expect(JSON.parse(hookBody)).toMatchObject({ error: { code: 'SERVICE_UNAVAILABLE' } });
    expect(hookBody).not.toMatch(/ECONNREFUSED|terminat/i);

    await server.start();
    // The same pool serves again: its broken clients were discarded, not handed out.
    expect(await eventually(() => db.query<{ n: number }>('SELECT 3 AS n'))).toEqual([{ n: 3 }]);
    await db.close();
    expect(worker.crashes).toEqual([]);
  }, 60_000);

  it('the sync worker process rides out a restart and runs jobs enqueued after it without being restarted', async () => {
    const create = (name: string) =>
      postGraphQL<{ createAccount: { id: string } }>(
        stack.gateway.url,
        'mutation($n: String!) { createAccount(input: { name: $n, billingAddress: { line1: "1 Rue", city: "Paris", country: "FR" } }) { id } }',
        { token, variables: { n: name } },
      );
    const ok = await eventually(async () => {
      const res = await create('Before restart');
      if (res.status !== 200 || res.body.errors) throw new Error(JSON.stringify(res.body));
      return res;
    });
    expect(ok.body.data?.createAccount.id).toBeTruthy();
    await server.stop();
    await server.start();
    const after = await eventually(async () => {
      const res = await create('After restart');
      return res.status === 200 && !res.body.errors ? res.body.data?.createAccount.id : null;
    });
    const done = await eventually(async () => {
      const rows = await stack.db.query<{ state: string }>('SELECT state FROM sync.jobs WHERE entity_id = $1', [after]);
      return rows.length === 2 && rows.every((r) => r.state === 'SUCCEEDED') ? rows : null;
    }, 45_000);
    expect(done).toHaveLength(2);
    expect(worker.alive).toBe(true);
    expect(worker.crashes).toEqual([]);
  }, 90_000);
});
