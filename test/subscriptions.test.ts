import { type Instance, type TestStack, startInstance, startTestStack } from './support/stack';
import { seedTenant } from '../subgraphs/registry';
import { collect, wsClient } from './support/ws';
import { waitForSync } from './support/wait';
import type { ClientRequestArgs } from 'node:http';
import { type Socket, connect } from 'node:net';
import WebSocket from 'ws';
import { syncChannel } from '../lib/events';

const WATCH = /* GraphQL */ `
  subscription Watch($id: ID!, $after: ID) {
    syncStatusChanged(filter: { entityId: $id }, after: $after) {
      eventId
      event { state targetSystem correlationId }
      job { state targetSystem attempts }
      account { name balance { amountMinor } subscriptions { status } }
    }
  }
`;

interface Change {
  eventId: string;
  event: { state: string; targetSystem: string };
  job: { state: string } | null;
  account: { name: string; balance: { amountMinor: string } | null } | null;
}
const changeOf = (r: { data?: Record<string, unknown> | null }) => r.data?.['syncStatusChanged'] as Change;

describe('live sync status over graphql-ws', () => {
  let stack: TestStack;
  let instanceB: Instance;
  const closers: (() => Promise<void> | void)[] = [];
  beforeAll(async () => {
    stack = await startTestStack({ accounts: 3 });
    // A second gateway instance with its own Redis connections: events reach it only through Redis pub/sub.
    instanceB = await startInstance(stack, { withBus: true });
    closers.push(() => instanceB.close());
  });
  afterAll(async () => {
    for (const close of closers) await close();
    await stack.stop();
  });

  const createAccount = async (name: string) => {
    const res = await stack.gql<{ createAccount: { id: string } }>('mutation($n: String!) { createAccount(input: { name: $n }) { id } }', { n: name });
    return res.body.data?.createAccount.id ?? '';
  };
  // PENDING x2, RUNNING x2, SUCCEEDED x2: one account change fans out to ERP and billing.
  const EVENTS_PER_ACCOUNT_CHANGE = 6;

  it('pushes a change made through instance A to a subscriber on instance B, with federated fields resolved', async () => {
    const id = await createAccount('Live Events Co');
    const { client } = wsClient(instanceB.url, await stack.token());
    closers.push(() => client.dispose());
    const sub = collect(client, WATCH, { id, after: '0' });
    await sub.next(EVENTS_PER_ACCOUNT_CHANGE);
    expect(sub.error).toBeNull();
    const changes = sub.results.map(changeOf);
    expect(changes.map((c) => c.event.state).filter((s) => s === 'SUCCEEDED')).toHaveLength(2);
    const ids = changes.map((c) => BigInt(c.eventId));
    expect(ids).toEqual([...ids].sort((a, b) => (a < b ? -1 : 1)));
    const done = changes.find((c) => c.event.state === 'SUCCEEDED');
    expect(done?.job?.state).toBe('SUCCEEDED');
    expect(done?.account?.name).toBe('Live Events Co');
    expect(sub.results.every((r) => !r.errors)).toBe(true);
    // The first six may have come from the ledger (replay); a change made now can only arrive live, through Redis.
    await stack.gql('mutation($id: ID!) { updateAccount(id: $id, input: { name: "Live Events Co 2" }) { id } }', { id });
    await sub.next(2 * EVENTS_PER_ACCOUNT_CHANGE);
    const live = sub.results.slice(EVENTS_PER_ACCOUNT_CHANGE).map(changeOf);
    expect(live.filter((c) => c.event.state === 'SUCCEEDED').map((c) => c.account?.name)).toEqual(['Live Events Co 2', 'Live Events Co 2']);
    const allIds = sub.results.map((r) => BigInt(changeOf(r).eventId));
    expect(new Set(allIds).size).toBe(allIds.length);
    sub.dispose();
  });

  it('applies the subscriber\'s own scopes to federated fields: no finance:read, balance denied', async () => {
    const token = await stack.token({ scopes: ['sync:read', 'crm:read', 'billing:read'] });
    const { client } = wsClient(stack.url, token);
    closers.push(() => client.dispose());
    const id = await createAccount('Scoped Watcher Ltd');
    const sub = collect(client, WATCH, { id, after: '0' });
    await sub.next(1);
    const first = sub.results[0];
    expect(changeOf(first ?? {}).account?.name).toBe('Scoped Watcher Ltd');
    expect(changeOf(first ?? {}).account?.balance).toBeNull();
    expect(first?.errors?.map((e) => [e.extensions?.['code'], e.path?.join('.')])).toContainEqual(['FORBIDDEN', 'syncStatusChanged.account.balance']);
    sub.dispose();
  });

  it('never delivers another tenant\'s events', async () => {
    const { client } = wsClient(stack.url, await stack.token({ tenant: 'globex' }));
    closers.push(() => client.dispose());
    const globexSub = collect(client, 'subscription { syncStatusChanged(after: "0") { eventId event { entityId } } }');
    const acmeId = await createAccount('Acme Only Inc');
    await waitForSync(stack, 'acme', async () => (await stack.db.query("SELECT 1 FROM sync.jobs WHERE entity_id = $1 AND state = 'SUCCEEDED'", [acmeId])).length === 2);
    // A globex change afterwards: once it arrives, anything acme published before it would have arrived too.
    const globexId = (await stack.gql<{ createAccount: { id: string } }>('mutation { createAccount(input: { name: "Globex Marker" }) { id } }', {}, { tenant: 'globex' })).body.data?.createAccount.id;
    await globexSub.next(EVENTS_PER_ACCOUNT_CHANGE);
    const seen = globexSub.results.map((r) => (r.data?.['syncStatusChanged'] as { event: { entityId: string } }).event.entityId);
    expect(seen).toContain(globexId);
    expect(seen).not.toContain(acmeId);
    globexSub.dispose();
  });

  it('a client that disconnects and resumes with `after` receives each missed event exactly once', async () => {
    const id = await createAccount('Resume Corp');
    const token = await stack.token();
    const first = wsClient(stack.url, token);
    const sub = collect(first.client, WATCH, { id, after: '0' });
    await sub.next(EVENTS_PER_ACCOUNT_CHANGE);
    const lastSeen = changeOf(sub.results[sub.results.length - 1] ?? {}).eventId;
    await first.client.dispose();

    // While disconnected: two more changes.
    await stack.gql('mutation($id: ID!) { updateAccount(id: $id, input: { name: "Resume Corp 2" }) { id } }', { id });
    await waitForSync(stack, 'acme', async () => (await stack.db.query("SELECT 1 FROM sync.jobs WHERE entity_id = $1 AND state = 'SUCCEEDED'", [id])).length === 4);
    await stack.gql('mutation($id: ID!) { updateAccount(id: $id, input: { name: "Resume Corp 3" }) { id } }', { id });

    const second = wsClient(stack.url, token);
    closers.push(() => second.client.dispose());
    const resumed = collect(second.client, WATCH, { id, after: lastSeen });
    await resumed.next(2 * EVENTS_PER_ACCOUNT_CHANGE);
    const ids = resumed.results.map((r) => changeOf(r).eventId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.every((e) => BigInt(e) > BigInt(lastSeen))).toBe(true);
    const stored = await stack.db.query<{ seq: string }>(
      "SELECT seq::text FROM sync.events WHERE tenant_id = 'acme' AND entity_id = $1 AND seq > $2 ORDER BY seq LIMIT 12",
      [id, lastSeen],
    );
    expect(ids).toEqual(stored.map((r) => r.seq));
    resumed.dispose();
  });

  it('pushes invoice and subscription status changes, with the entity read through the gateway, replaying from the start of the ledger', async () => {
    const [customer] = await stack.db.query<{ id: string; currency: string }>("SELECT id, currency FROM billing.customers WHERE tenant_id = 'acme' ORDER BY id LIMIT 1");
    const created = await stack.gql<{ createBillingSubscription: { id: string } }>(
      'mutation($a: ID!, $c: String!) { createBillingSubscription(input: { accountId: $a, currency: $c, items: [{ planCode: "starter" }] }) { id } }',
      { a: customer?.id, c: customer?.currency },
    );
    expect(created.body.errors).toBeUndefined();
    const sub = { id: created.body.data?.createBillingSubscription.id };
    const { client } = wsClient(stack.url, await stack.token());
    closers.push(() => client.dispose());
    const subs = collect(client, 'subscription($id: ID) { subscriptionStatusChanged(subscriptionId: $id, after: "0") { eventId status subscription { id status } } }', { id: sub?.id });
    const issued = await stack.gql<{ issueSubscriptionInvoice: { id: string } }>('mutation($s: ID!) { issueSubscriptionInvoice(subscriptionId: $s) { id } }', { s: sub?.id });
    const invoiceId = issued.body.data?.issueSubscriptionInvoice.id;
    const invoices = collect(client, 'subscription($id: ID) { invoiceStatusChanged(invoiceId: $id, after: "0") { eventId invoiceId status invoice { number status } } }', { id: invoiceId });
    // Sync posts the billing invoice in the ERP: DRAFT then POSTED.
    await invoices.next(2);
    expect(invoices.results.map((r) => (r.data?.['invoiceStatusChanged'] as { status: string }).status)).toEqual(['DRAFT', 'POSTED']);
    const posted = invoices.results[1]?.data?.['invoiceStatusChanged'] as { invoice: { number: string } } | undefined;
    expect(posted?.invoice.number).toMatch(/^INV-/);
    await stack.gql('mutation($id: ID!) { cancelBillingSubscription(id: $id) { status } }', { id: sub?.id });
    await subs.next(2);
    expect(subs.error).toBeNull();
    expect(subs.results.map((r) => (r.data?.['subscriptionStatusChanged'] as { status: string }).status)).toEqual(['ACTIVE', 'CANCELED']);
    expect(subs.results[1]?.data?.['subscriptionStatusChanged']).toMatchObject({ subscription: { id: sub?.id, status: 'CANCELED' } });
    invoices.dispose();
    subs.dispose();
    // Without finance:read there is no invoice stream.
    const narrow = wsClient(stack.url, await stack.token({ scopes: ['billing:read'] }));
    closers.push(() => narrow.client.dispose());
    const denied = collect(narrow.client, 'subscription { invoiceStatusChanged { eventId } }');
    await denied.next(1);
    expect(denied.results[0]?.errors?.map((e) => e.extensions?.['code'])).toEqual(['FORBIDDEN']);
  });

  it('closes the connection with 4403 (retried by clients, with fresh connectionParams) on a bad token and refuses a subscribe without sync:read', async () => {
    const bad = wsClient(stack.url, 'not-a-token');
    closers.push(() => bad.client.dispose());
    collect(bad.client, 'subscription { syncStatusChanged { eventId } }');
    expect(await bad.closed).toBe(4403);

    const { client } = wsClient(stack.url, await stack.token({ scopes: ['crm:read'] }));
    closers.push(() => client.dispose());
    const denied = collect(client, 'subscription { syncStatusChanged { eventId } }');
    await denied.next(1);
    expect(denied.results[0]?.errors?.map((e) => e.extensions?.['code'])).toEqual(['FORBIDDEN']);
  });

  it('drops a subscriber that stops reading with 4008 once its undelivered events pass the limit; the others get every event', async () => {
    // An instance with a small buffer, on its own bus connection: this test's listener on that bus is called after
    // the gateway's (same emitter, registered later), so once it has seen the last event the gateway has too.
    const instanceC = await startInstance(stack, { withBus: true, subscriptionLimits: { maxBuffered: 20 } });
    closers.push(() => instanceC.close());
    const bus = instanceC.bus;
    if (!bus) throw new Error('instance without a bus');
    // A tenant of its own, so no other test's event takes one of the ids the flood uses.
    const tenant = 'flood';
    await stack.db.transaction((tx) => seedTenant(tx, tenant, 1));
    const created = await stack.gql<{ createAccount: { id: string } }>('mutation { createAccount(input: { name: "Flood Corp" }) { id } }', {}, { tenant });
    const id = created.body.data?.createAccount.id ?? '';
    await waitForSync(stack, tenant, async () =>
      (await stack.db.query("SELECT 1 FROM sync.events WHERE entity_id = $1 AND state = 'SUCCEEDED' AND seq IS NOT NULL", [id])).length === 2);
    // Both subscribers resume just before the last stored job event: receiving it proves they listen live.
    const [seqs] = await stack.db.query<{ job: string; top: string }>(
      'SELECT max(seq) FILTER (WHERE job_id IS NOT NULL)::text AS job, max(seq)::text AS top FROM sync.events WHERE tenant_id = $1', [tenant],
    );
    const after = String(BigInt(seqs?.job ?? '1') - 1n);
    const base = BigInt(seqs?.top ?? '0');

    // A raw graphql-transport-ws client on a socket the test can stop reading from.
    const conn: { socket?: Socket } = {};
    const ws = new WebSocket(instanceC.url.replace(/^http/, 'ws'), 'graphql-transport-ws', {
      createConnection: (options: ClientRequestArgs) => (conn.socket = connect({ host: options.host ?? '127.0.0.1', port: Number(options.port) })),
    });
    const frames: { type: string }[] = [];
    let onFrame: () => void = () => undefined;
    ws.on('message', (raw: Buffer) => {
      frames.push(JSON.parse(raw.toString('utf8')) as { type: string });
      onFrame();
    });
    const closed = new Promise<number>((resolve) => ws.on('close', (code: number) => resolve(code)));
    const until = (check: () => boolean) =>
      new Promise<void>((resolve) => {
        onFrame = () => void (check() && resolve());
        onFrame();
      });
    const delivered = () => frames.filter((f) => f.type === 'next').length;
    await new Promise<void>((resolve) => ws.on('open', () => resolve()));
    ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${await stack.token({ tenant })}` } }));
    await until(() => frames.some((f) => f.type === 'connection_ack'));
    ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: 'subscription($a: ID) { syncStatusChanged(after: $a) { eventId event { message } } }', variables: { a: after } } }));
    await until(() => delivered() === 1);
    const other = wsClient(instanceC.url, await stack.token({ tenant }));
    const steady = collect(other.client, 'subscription($a: ID) { syncStatusChanged(after: $a) { eventId } }', { a: after });
    await steady.next(1);

    // Stop reading; 300 synthetic job events with the next ids, 64 KiB each (~19 MiB, far more than the socket
    // buffers hold); wait until the bus has handed the last one to the gateway; read again.
    conn.socket?.pause();
    const event = (n: number) => JSON.stringify({
      eventId: String(base + BigInt(n)), jobId: 'job_flood', kind: 'ACCOUNT_UPSERT', entityType: 'Account', entityId: 'acc_flood', targetSystem: 'ERP',
      state: 'RUNNING', attempts: 1, errorCode: null, message: 'x'.repeat(64 * 1024), correlationId: 'flood', at: new Date().toISOString(),
    });
    let seenLast: () => void = () => undefined;
    const lastSeen = new Promise<void>((resolve) => (seenLast = resolve));
    const off = await bus.subscribe(syncChannel(tenant), (m) => void (m.startsWith(`{"eventId":"${base + 300n}"`) && seenLast()));
    for (let n = 1; n <= 300; n++) await bus.publish(syncChannel(tenant), event(n));
    await lastSeen;
    await off();
    conn.socket?.resume();

    // What the socket buffers held arrives, then the close; the other subscriber got every event, in order.
    expect(await closed).toBe(4008);
    expect(delivered()).toBeGreaterThan(1);
    expect(delivered()).toBeLessThan(301);
    await steady.next(301);
    const ids = steady.results.map((r) => (r.data?.['syncStatusChanged'] as { eventId: string }).eventId);
    expect(ids.slice(1)).toEqual(Array.from({ length: 300 }, (_, i) => String(base + BigInt(i + 1))));
    steady.dispose();
    await other.client.dispose();
  });
});
