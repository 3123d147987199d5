import { Webhook } from 'standardwebhooks';
import { keyRingFromEnv } from '../lib/connectors/secret-box';
import { createLogger } from '../lib/logger';
import { type DeliveryWorker, startDeliveryWorker } from '../subgraphs/sync/partner-webhooks/delivery-worker';
import { type PartnerWebhookSettings, partnerWebhookSettings } from '../subgraphs/sync/partner-webhooks/settings';
import { enqueuePartnerDeliveries } from '../subgraphs/sync/partner-webhooks/enqueue';
import { sweepDeliveries } from '../subgraphs/sync/partner-webhooks/store';
import { EVENT_COLS, event } from '../subgraphs/sync/ledger/store';
import { startProcess } from './support/child';
import { eventually } from './support/eventually';
import { codes } from './support/http';
import { ALL_SCOPES, type TestStack, startTestStack } from './support/stack';
import { type Received, type WebhookReceiver, startWebhookReceiver } from './support/webhook-receiver';

/**
 * Webhooks to partners end to end: endpoints registered through the gateway, events from real mutations, deliveries
 * over real HTTP to local receivers that verify every signature with the Standard Webhooks library.
 */

// The stack runs no delivery loop (concurrency 0): each test starts the workers it needs, so which process sends is known.
const SETTINGS = { allowLoopbackHttp: true, concurrency: 0, retryBaseMs: 100, retryMaxMs: 5_000, timeoutMs: 3_000, pollMs: 50, disableAfterFailures: 3, maxAttempts: 10 };

let stack: TestStack;
let admin: Record<string, string>;

const ENDPOINT_FIELDS = 'id url eventKinds enabled disabledReason failureStreak previousSecretExpiresAt';
const CREATE = `mutation($input: CreatePartnerWebhookEndpointInput!) { createPartnerWebhookEndpoint(input: $input) { secret endpoint { ${ENDPOINT_FIELDS} } } }`;
const DELIVERIES = `query($id: ID!) { partnerWebhookEndpoint(id: $id) { ${ENDPOINT_FIELDS}
  deliveries(first: 50) { nodes { id eventId eventType state attempts lastStatusCode payload attemptLog { attempt statusCode error retryAfterMs finishedAt } } } } }`;

interface Endpoint { id: string; enabled: boolean; disabledReason: string | null; failureStreak: number; previousSecretExpiresAt: string | null }
interface Delivery { id: string; eventId: string; eventType: string; state: string; attempts: number; lastStatusCode: number | null; payload: string;
  attemptLog: { attempt: number; statusCode: number | null; error: string | null; retryAfterMs: number | null; finishedAt: string | null }[] }

async function adminToken(tenant: string): Promise<string> {
  return stack.token({ tenant, scopes: [...ALL_SCOPES, 'admin'] });
}

async function createEndpoint(tenant: string, url: string, eventKinds: string[]): Promise<{ id: string; secret: string }> {
  const res = await stack.gql<{ createPartnerWebhookEndpoint: { secret: string; endpoint: Endpoint } }>(CREATE, { input: { url, eventKinds } }, { token: admin[tenant] });
  expect(res.body.errors).toBeUndefined();
  const created = res.body.data?.createPartnerWebhookEndpoint;
  if (!created) throw new Error('no endpoint');
  return { id: created.endpoint.id, secret: created.secret };
}

async function endpointWithDeliveries(tenant: string, id: string): Promise<Endpoint & { deliveries: { nodes: Delivery[] } }> {
  const res = await stack.gql<{ partnerWebhookEndpoint: Endpoint & { deliveries: { nodes: Delivery[] } } }>(DELIVERIES, { id }, { token: admin[tenant] });
  expect(res.body.errors).toBeUndefined();
  const e = res.body.data?.partnerWebhookEndpoint;
  if (!e) throw new Error(`endpoint ${id} not visible to ${tenant}`);
  return e;
}

async function deleteEndpoint(tenant: string, id: string): Promise<void> {
  const res = await stack.gql('mutation($id: ID!) { deletePartnerWebhookEndpoint(id: $id) }', { id }, { token: admin[tenant] });
  expect([res.body.data, res.body.errors]).toEqual([{ deletePartnerWebhookEndpoint: id }, undefined]);
}

/** Cancels one of the tenant's active subscriptions through the gateway: a SUBSCRIPTION_STATUS event. */
async function cancelSubscription(tenant: string): Promise<string> {
  const [row] = await stack.db.query<{ id: string }>("SELECT id FROM billing.subscriptions WHERE tenant_id = $1 AND status = 'ACTIVE' ORDER BY id LIMIT 1", [tenant]);
  if (!row) throw new Error(`no active subscription left for ${tenant}`);
  const res = await stack.gql('mutation($id: ID!) { cancelBillingSubscription(id: $id) { status } }', { id: row.id }, { tenant });
  expect(res.body.data).toEqual({ cancelBillingSubscription: { status: 'CANCELED' } });
  return row.id;
}

interface Message { type: string; timestamp: string; data: { tenant: string; entityId: string; state: string; eventId: string } }
const parse = (r: Received): Message => JSON.parse(r.body) as Message;

/** What a partner does with each request: verify it with the spec's library (throws when it does not verify). */
function verified(r: Received, secret: string): Message {
  return new Webhook(secret).verify(r.body, r.headers) as Message;
}

/** The child worker needs no Redis (its events go nowhere the test listens): the in-memory bus. */
function withoutRedis(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { REDIS_URL: _unused, ...rest } = env;
  return rest;
}

function worker(overrides: Partial<PartnerWebhookSettings> = {}): DeliveryWorker {
  return startDeliveryWorker({
    db: stack.db, ring: keyRingFromEnv(undefined, false), logger: createLogger('silent', 'test'),
    settings: partnerWebhookSettings({ ...SETTINGS, concurrency: 4, ...overrides }, false),
  });
}

beforeAll(async () => {
  stack = await startTestStack({ accounts: 30, env: { PARTNER_WEBHOOKS: JSON.stringify(SETTINGS) } });
  admin = { acme: await adminToken('acme'), globex: await adminToken('globex') };
});

afterAll(async () => {
  await stack?.stop();
});

// Each test deletes what it made through the API; this keeps a failed test's endpoints from reaching into the next.
afterEach(async () => {
  await stack.db.query('DELETE FROM sync.partner_webhook_endpoints');
});

describe('deliveries', () => {
  let deliveries: DeliveryWorker;
  const receivers: WebhookReceiver[] = [];
  const receiver = async (...args: Parameters<typeof startWebhookReceiver>) => {
    const r = await startWebhookReceiver(...args);
    receivers.push(r);
    return r;
  };
  beforeAll(() => {
    deliveries = worker();
  });
  afterAll(async () => {
    await deliveries.stop();
    for (const r of receivers) await r.close();
  });

  it('retries after a 500 and a 429 with Retry-After, then delivers; every attempt verifies; the other tenant never sees it', async () => {
    const acmeReceiver = await receiver((n) => (n === 0 ? { status: 500 } : n === 1 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 204 }));
    const globexReceiver = await receiver();
    const acme = await createEndpoint('acme', acmeReceiver.url, ['SUBSCRIPTION_STATUS']);
    const globex = await createEndpoint('globex', globexReceiver.url, ['SYNC_JOB_STATE', 'SUBSCRIPTION_STATUS', 'INVOICE_STATUS']);

    const subscriptionId = await cancelSubscription('acme');
    const requests = await acmeReceiver.waitForCount(3);
    const messages = requests.map((r) => verified(r, acme.secret));
    for (const m of messages) expect(m).toMatchObject({ type: 'subscription.status_changed', data: { tenant: 'acme', entityId: subscriptionId, state: 'CANCELED' } });
    // One message, three attempts: the same webhook-id and body each time.
    expect(new Set(requests.map((r) => r.headers['webhook-id'])).size).toBe(1);
    expect(new Set(requests.map((r) => r.body)).size).toBe(1);
    const [, second, third] = requests;
    // Retry-After: 1 was honoured (the backoff alone would be 100-200 ms here).
    expect((third?.at ?? 0) - (second?.at ?? 0)).toBeGreaterThanOrEqual(1000);

    const log = await eventually(async () => {
      const e = await endpointWithDeliveries('acme', acme.id);
      return e.deliveries.nodes[0]?.state === 'SUCCEEDED' ? e : null;
    });
    expect(log.deliveries.nodes).toHaveLength(1);
    const [delivery] = log.deliveries.nodes;
    expect(delivery).toMatchObject({ id: requests[0]?.headers['webhook-id'], eventType: 'subscription.status_changed', attempts: 3, lastStatusCode: 204 });
    expect(delivery?.attemptLog.map((a) => [a.statusCode, a.retryAfterMs])).toEqual([[500, null], [429, 1000], [204, null]]);
    expect(JSON.parse(delivery?.payload ?? '{}')).toEqual(JSON.parse(requests[0]?.body ?? ''));
    // Read again: the endpoint above was read before its deliveries, possibly just before the success committed.
    expect((await endpointWithDeliveries('acme', acme.id)).failureStreak).toBe(0);

    // The other tenant's endpoint (subscribed to everything) hears its own tenant only.
    await stack.gql('mutation($id: ID!) { requestResync(accountId: $id) { id } }', { id: (await stack.db.query<{ id: string }>("SELECT id FROM crm.accounts WHERE tenant_id = 'globex' LIMIT 1"))[0]?.id }, { tenant: 'globex' });
    await cancelSubscription('globex');
    await eventually(async () => {
      const types = new Set(globexReceiver.received.map((r) => parse(r).type));
      return types.has('sync_job.state_changed') && types.has('subscription.status_changed');
    });
    for (const r of globexReceiver.received) expect(verified(r, globex.secret).data.tenant).toBe('globex');
    for (const r of acmeReceiver.received) expect(parse(r).data.tenant).toBe('acme');
    const stored = await stack.db.query<{ tenant_id: string; body: string }>('SELECT tenant_id, body FROM sync.partner_webhook_deliveries WHERE endpoint_id = $1', [globex.id]);
    expect(stored.length).toBeGreaterThan(0);
    for (const s of stored) expect([s.tenant_id, (JSON.parse(s.body) as Message).data.tenant]).toEqual(['globex', 'globex']);
    // The acme endpoint asked for subscription statuses only: no job events reached it.
    expect(acmeReceiver.received.every((r) => parse(r).type === 'subscription.status_changed')).toBe(true);

    await deleteEndpoint('acme', acme.id);
    await deleteEndpoint('globex', globex.id);
    expect(await stack.db.query('SELECT 1 FROM sync.partner_webhook_deliveries WHERE endpoint_id = ANY($1::text[])', [[acme.id, globex.id]])).toHaveLength(0);
  });

  it('signs with both secrets during a rotation grace period, with the new one alone after a rotation without grace', async () => {
    const r = await receiver();
    const { id, secret: first } = await createEndpoint('acme', r.url, ['SUBSCRIPTION_STATUS']);
    const rotate = 'mutation($id: ID!, $grace: Int) { rotatePartnerWebhookSecret(id: $id, graceSeconds: $grace) { secret endpoint { previousSecretExpiresAt } } }';
    const rotated = await stack.gql<{ rotatePartnerWebhookSecret: { secret: string; endpoint: Endpoint } }>(rotate, { id, grace: 600 }, { token: admin['acme'] });
    const second = rotated.body.data?.rotatePartnerWebhookSecret.secret ?? '';
    expect(second).toMatch(/^whsec_/);
    expect(second).not.toBe(first);
    expect(rotated.body.data?.rotatePartnerWebhookSecret.endpoint.previousSecretExpiresAt).not.toBeNull();

    await cancelSubscription('acme');
    const [during] = await r.waitForCount(1);
    if (!during) throw new Error('no request');
    expect(during.headers['webhook-signature']?.split(' ')).toHaveLength(2);
    expect(verified(during, first).type).toBe('subscription.status_changed');
    expect(verified(during, second).type).toBe('subscription.status_changed');

    const again = await stack.gql<{ rotatePartnerWebhookSecret: { secret: string } }>(rotate, { id, grace: 0 }, { token: admin['acme'] });
    const third = again.body.data?.rotatePartnerWebhookSecret.secret ?? '';
    await cancelSubscription('acme');
    const [, after] = await r.waitForCount(2);
    if (!after) throw new Error('no request');
    expect(after.headers['webhook-signature']?.split(' ')).toHaveLength(1);
    expect(verified(after, third).type).toBe('subscription.status_changed');
    expect(() => verified(after, second)).toThrow();
    expect(() => verified(after, first)).toThrow();
    await deleteEndpoint('acme', id);
  });

  it('disables an endpoint after the failure streak, shows why, delivers what waited once re-enabled, and replays with the same webhook-id', async () => {
    const r = await receiver(() => ({ status: 503 }));
    const { id, secret } = await createEndpoint('acme', r.url, ['SUBSCRIPTION_STATUS']);
    await cancelSubscription('acme');
    const disabled = await eventually(async () => {
      const e = await endpointWithDeliveries('acme', id);
      return e.enabled ? null : e;
    });
    expect(disabled).toMatchObject({ enabled: false, disabledReason: 'FAILURE_STREAK', failureStreak: 3 });
    expect(r.received).toHaveLength(3);
    const [waiting] = disabled.deliveries.nodes;
    expect(waiting).toMatchObject({ state: 'FAILED', attempts: 3, lastStatusCode: 503 });

    // Disabled: a new event is not queued for it (once the relay has numbered the event, nothing waits for it), and
    // what waits is not sent.
    const whileDisabled = await cancelSubscription('acme');
    await eventually(async () => (await stack.db.query('SELECT 1 FROM sync.events WHERE entity_id = $1 AND seq IS NOT NULL', [whileDisabled])).length > 0);
    expect(await stack.db.query('SELECT 1 FROM sync.partner_webhook_deliveries WHERE endpoint_id = $1', [id])).toHaveLength(1);
    expect(r.received).toHaveLength(3);
    r.answerWith(() => ({ status: 200 }));
    const enable = await stack.gql<{ updatePartnerWebhookEndpoint: Endpoint }>(
      `mutation($id: ID!) { updatePartnerWebhookEndpoint(id: $id, input: { enabled: true }) { ${ENDPOINT_FIELDS} } }`, { id }, { token: admin['acme'] },
    );
    expect(enable.body.data?.updatePartnerWebhookEndpoint).toMatchObject({ enabled: true, disabledReason: null, failureStreak: 0 });
    const [, , , delivered] = await r.waitForCount(4);
    if (!delivered) throw new Error('no request');
    expect(delivered.headers['webhook-id']).toBe(waiting?.id);
    const done = await eventually(async () => {
      const e = await endpointWithDeliveries('acme', id);
      return e.deliveries.nodes[0]?.state === 'SUCCEEDED' ? e : null;
    });
    expect(done.deliveries.nodes).toHaveLength(1);

    const replay = await stack.gql<{ replayPartnerWebhookDelivery: Delivery }>(
      'mutation($id: ID!) { replayPartnerWebhookDelivery(id: $id) { id state } }', { id: waiting?.id }, { token: admin['acme'] },
    );
    expect(replay.body.data?.replayPartnerWebhookDelivery).toEqual({ id: waiting?.id, state: 'PENDING' });
    const [, , , , replayed] = await r.waitForCount(5);
    if (!replayed) throw new Error('no request');
    expect(replayed.headers['webhook-id']).toBe(waiting?.id);
    expect(replayed.body).toBe(delivered.body);
    expect(verified(replayed, secret).type).toBe('subscription.status_changed');
    await deleteEndpoint('acme', id);
  });
});

describe('a hanging partner', () => {
  it('holds at most its per-endpoint share of delivery slots: another tenant is delivered while it hangs', async () => {
    const hanging = await startWebhookReceiver(() => 'hang');
    const healthy = await startWebhookReceiver();
    const a = await createEndpoint('acme', hanging.url, ['SUBSCRIPTION_STATUS']);
    const b = await createEndpoint('globex', healthy.url, ['SUBSCRIPTION_STATUS']);
    // Three slots and three messages for the hanging endpoint: without the cap they would take every slot.
    const deliveries = worker({ concurrency: 3, maxInFlightPerEndpoint: 1, timeoutMs: 20_000 });
    try {
      for (let i = 0; i < 3; i++) await cancelSubscription('acme');
      await hanging.waitForCount(1);
      await cancelSubscription('globex');
      const [got] = await healthy.waitForCount(1);
      expect(verified(got as Received, b.secret).data.tenant).toBe('globex');
      // Delivered while the first acme request still hangs, and acme never had two requests open.
      expect([hanging.open(), hanging.received.length, hanging.maxOpen()]).toEqual([1, 1, 1]);
    } finally {
      await hanging.close();
      await deliveries.stop();
      await healthy.close();
    }
    await deleteEndpoint('acme', a.id);
    await deleteEndpoint('globex', b.id);
  });
});

describe('the outbox', () => {
  it('queues an event once per endpoint however often its batch is relayed, and nothing from a transaction that rolled back', async () => {
    const { id } = await createEndpoint('acme', 'https://hooks.partner.example/outbox', ['SUBSCRIPTION_STATUS']);
    const subscriptionId = await cancelSubscription('acme');
    const [row] = await eventually(async () => {
      const rows = await stack.db.query(`SELECT ${EVENT_COLS} FROM sync.events WHERE entity_id = $1 AND seq IS NOT NULL`, [subscriptionId]);
      return rows.length > 0 ? rows : null;
    });
    if (!row) throw new Error('no event');
    const relayed = event(row);
    const queued = () => stack.db.query<{ event_id: string }>('SELECT event_id FROM sync.partner_webhook_deliveries WHERE endpoint_id = $1', [id]);
    expect((await queued()).map((q) => String(q.event_id))).toEqual([relayed.eventId]);
    // The relay's batch again (a retried transaction, two relays racing): nothing new.
    expect(await enqueuePartnerDeliveries(stack.db, [relayed, relayed])).toBe(0);
    // An event of another tenant with the same id reaches only that tenant's endpoints: none here.
    expect(await enqueuePartnerDeliveries(stack.db, [{ ...relayed, tenant: 'globex', eventId: '999999' }])).toBe(0);
    // In a transaction that rolls back (the relay crashed before commit), nothing stays queued.
    const fresh = { ...relayed, eventId: '888888' };
    await expect(stack.db.transaction(async (tx) => {
      expect(await enqueuePartnerDeliveries(tx, [fresh])).toBe(1);
      throw new Error('crash before commit');
    })).rejects.toThrow('crash before commit');
    expect(await queued()).toHaveLength(1);
    await deleteEndpoint('acme', id);
  });

  it('keeps finished deliveries for the retention period, and pending ones however old', async () => {
    const { id } = await createEndpoint('acme', 'https://hooks.partner.example/retention', ['SUBSCRIPTION_STATUS']);
    const insert = (msg: string, state: string, daysAgo: number, eventId: number) => stack.db.query(
      `INSERT INTO sync.partner_webhook_deliveries (id, tenant_id, endpoint_id, event_id, event_type, body, state, updated_at)
       VALUES ($1, 'acme', $2, $3, 'subscription.status_changed', '{}', $4, now() - make_interval(days => $5))`,
      [msg, id, eventId, state, daysAgo],
    );
    await insert('msg_old_ok', 'SUCCEEDED', 40, 900001);
    await insert('msg_old_gaveup', 'GAVE_UP', 31, 900002);
    await insert('msg_recent_ok', 'SUCCEEDED', 2, 900003);
    await insert('msg_old_failed', 'FAILED', 40, 900004);
    expect(await sweepDeliveries(stack.db, 30)).toBe(2);
    const left = await stack.db.query<{ id: string }>('SELECT id FROM sync.partner_webhook_deliveries WHERE endpoint_id = $1 ORDER BY id', [id]);
    expect(left.map((r) => r.id)).toEqual(['msg_old_failed', 'msg_recent_ok']);
    await deleteEndpoint('acme', id);
  });
});

describe('a delivery worker killed mid-delivery', () => {
  it('sends the message again, with the same webhook-id, once its lease has run out', async () => {
    const r = await startWebhookReceiver((n) => (n === 0 ? 'hang' : { status: 200 }));
    const { id, secret } = await createEndpoint('acme', r.url, ['SUBSCRIPTION_STATUS']);
    // node --import tsx, not the tsx CLI: SIGKILL must reach the worker itself (the CLI runs it in a child process).
    const child = startProcess(process.execPath, ['--import', 'tsx', 'subgraphs/sync/worker.ts'], {
      env: {
        ...withoutRedis(process.env), NODE_OPTIONS: '', NODE_ENV: 'test', LOG_LEVEL: 'info', DATABASE_URL: stack.config.databaseUrl, SYNC_WORKER_PORT: '0',
        RECONCILE_INTERVAL_SECONDS: '0', PARTNER_WEBHOOKS: JSON.stringify({ ...SETTINGS, concurrency: 2, timeoutMs: 3_000 }),
      },
    });
    let replacement: DeliveryWorker | undefined;
    try {
      await child.waitFor(/sync worker started/);
      await cancelSubscription('acme');
      const [first] = await r.waitForCount(1, 60_000);
      // The child holds the request open at the receiver: kill it there, before any answer.
      await child.stop('SIGKILL');
      replacement = worker();
      const [, second] = await r.waitForCount(2, 30_000);
      if (!first || !second) throw new Error('no requests');
      expect(second.headers['webhook-id']).toBe(first.headers['webhook-id']);
      expect(second.body).toBe(first.body);
      expect(verified(second, secret).type).toBe('subscription.status_changed');
      const e = await eventually(async () => {
        const got = await endpointWithDeliveries('acme', id);
        return got.deliveries.nodes[0]?.state === 'SUCCEEDED' ? got : null;
      });
      // The cut-short attempt stays in the log, unfinished; the message was delivered once the worker came back.
      expect(e.deliveries.nodes[0]?.attemptLog.map((a) => [a.statusCode, a.finishedAt === null])).toEqual([[null, true], [200, false]]);
    } finally {
      await child.stop('SIGKILL');
      await replacement?.stop();
      await r.close();
    }
    await deleteEndpoint('acme', id);
  });
});

describe('admin API', () => {
  it('needs the admin scope', async () => {
    const plain = await stack.gql('{ partnerWebhookEndpoints { id } }');
    expect(codes(plain)).toEqual(['FORBIDDEN']);
    const create = await stack.gql(CREATE, { input: { url: 'https://hooks.partner.example/in', eventKinds: ['INVOICE_STATUS'] } });
    expect(codes(create)).toEqual(['FORBIDDEN']);
  });

  it('refuses URLs that are not https to a public address', async () => {
    for (const url of ['http://hooks.partner.example/in', 'https://10.1.2.3/in', 'https://169.254.169.254/latest', 'ftp://x.example/', 'https://u:p@x.example/']) {
      const res = await stack.gql(CREATE, { input: { url, eventKinds: ['INVOICE_STATUS'] } }, { token: admin['acme'] });
      expect([url, codes(res)]).toEqual([url, ['BAD_USER_INPUT']]);
    }
    const none = await stack.gql(CREATE, { input: { url: 'https://hooks.partner.example/in', eventKinds: [] } }, { token: admin['acme'] });
    expect(codes(none)).toEqual(['BAD_USER_INPUT']);
  });

  it('keeps each tenant to its own endpoints and deliveries', async () => {
    const { id } = await createEndpoint('acme', 'https://hooks.partner.example/acme', ['INVOICE_STATUS']);
    const globex = admin['globex'];
    const list = await stack.gql<{ partnerWebhookEndpoints: { id: string }[] }>('{ partnerWebhookEndpoints { id } }', {}, { token: globex });
    expect(list.body.data?.partnerWebhookEndpoints.map((e) => e.id)).not.toContain(id);
    expect((await stack.gql('query($id: ID!) { partnerWebhookEndpoint(id: $id) { id } }', { id }, { token: globex })).body.data).toEqual({ partnerWebhookEndpoint: null });
    for (const op of [
      'mutation($id: ID!) { updatePartnerWebhookEndpoint(id: $id, input: { url: "https://evil.example/" }) { id } }',
      'mutation($id: ID!) { disablePartnerWebhookEndpoint(id: $id) { id } }',
      'mutation($id: ID!) { rotatePartnerWebhookSecret(id: $id) { secret } }',
      'mutation($id: ID!) { deletePartnerWebhookEndpoint(id: $id) }',
    ]) {
      expect(codes(await stack.gql(op, { id }, { token: globex }))).toEqual(['NOT_FOUND']);
    }
    const [acmeDelivery] = await stack.db.query<{ id: string }>("SELECT id FROM sync.partner_webhook_deliveries WHERE tenant_id = 'acme' LIMIT 1");
    if (acmeDelivery) {
      expect(codes(await stack.gql('mutation($id: ID!) { replayPartnerWebhookDelivery(id: $id) { id } }', { id: acmeDelivery.id }, { token: globex }))).toEqual(['NOT_FOUND']);
      expect((await stack.gql('query($id: ID!) { partnerWebhookDelivery(id: $id) { id } }', { id: acmeDelivery.id }, { token: globex })).body.data).toEqual({ partnerWebhookDelivery: null });
    }
    const [row] = await stack.db.query<{ url: string }>('SELECT url FROM sync.partner_webhook_endpoints WHERE id = $1', [id]);
    expect(row?.url).toBe('https://hooks.partner.example/acme');
    await deleteEndpoint('acme', id);
  });

  it('shows the secret once, stores it sealed, keeps it out of the audit log and of stored idempotent answers', async () => {
    const res = await stack.gql<{ createPartnerWebhookEndpoint: { secret: string; endpoint: Endpoint } }>(
      CREATE, { input: { url: 'https://hooks.partner.example/audit', eventKinds: ['INVOICE_STATUS'] } },
      { token: admin['acme'], headers: { 'idempotency-key': `hooks-${Date.now()}` } },
    );
    const created = res.body.data?.createPartnerWebhookEndpoint;
    if (!created) throw new Error(JSON.stringify(res.body.errors));
    const secretBody = created.secret.slice('whsec_'.length);
    const id = created.endpoint.id;
    await stack.gql('mutation($id: ID!) { rotatePartnerWebhookSecret(id: $id) { endpoint { id } } }', { id }, { token: admin['acme'] });
    await stack.gql('mutation($id: ID!) { disablePartnerWebhookEndpoint(id: $id) { id } }', { id }, { token: admin['acme'] });
    const everywhere = await stack.db.query<{ t: string }>(
      `SELECT row_to_json(e)::text AS t FROM sync.partner_webhook_endpoints e WHERE id = $1
       UNION ALL SELECT row_to_json(a)::text FROM sync.audit_log a WHERE tenant_id = 'acme'
       UNION ALL SELECT row_to_json(k)::text FROM sync.idempotency_keys k WHERE tenant_id = 'acme'`,
      [id],
    );
    expect(everywhere.length).toBeGreaterThan(2);
    for (const { t } of everywhere) expect(t).not.toContain(secretBody);
    const audited = await stack.db.query<{ fields: string[]; outcome: string }>(
      "SELECT fields, outcome FROM sync.audit_log WHERE tenant_id = 'acme' AND fields && ARRAY['createPartnerWebhookEndpoint', 'rotatePartnerWebhookSecret', 'disablePartnerWebhookEndpoint', 'deletePartnerWebhookEndpoint']",
    );
    const fields = audited.map((a) => a.fields[0]);
    for (const f of ['createPartnerWebhookEndpoint', 'rotatePartnerWebhookSecret', 'disablePartnerWebhookEndpoint', 'deletePartnerWebhookEndpoint']) expect(fields).toContain(f);
    // Nothing a query can ask for holds the secret: the endpoint type has no such field.
    const introspect = await stack.gql<{ __type: { fields: { name: string }[] } }>('{ __type(name: "PartnerWebhookEndpoint") { fields { name } } }', {}, { token: admin['acme'] });
    expect(introspect.body.data?.__type.fields.map((f) => f.name).filter((n) => /secret/i.test(n))).toEqual(['secretRotatedAt', 'previousSecretExpiresAt']);
    await deleteEndpoint('acme', id);
  });
});
