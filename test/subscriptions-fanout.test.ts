import { syncChannel } from '../lib/events';
import { replayQueue } from '../gateway/subscriptions/replay-queue';
import { subscriptionGroups } from './support/accounts';
import { eventually } from './support/eventually';
import { type Instance, type TestStack, startInstance, startTestStack } from './support/stack';
import { waitForSync } from './support/wait';
import { collect, wsClient } from './support/ws';

/**
 * Issue 19: the fan-out core shares one execution and one frame per event among subscribers that get the same
 * answer, and only among them. Each test counts the groups the gateway reports (sor_subscription_groups) so that
 * "shared" and "not shared" are both observed, not assumed.
 */

const WATCH = /* GraphQL */ `
  subscription Watch($id: ID!, $after: ID) {
    syncStatusChanged(filter: { entityId: $id }, after: $after) {
      eventId
      event { state }
      account { name balance { amountMinor } }
    }
  }
`;
// Payload fields whose answer does not depend on the reader (`message` is rendered by the reader's scopes).
const PAYLOAD_ONLY = 'subscription($after: ID) { syncStatusChanged(after: $after) { eventId event { entityId correlationId } } }';

interface Change {
  eventId: string;
  event: { state: string; entityId?: string; correlationId?: string };
  account?: { name: string; balance: { amountMinor: string } | null } | null;
}
type Sub = ReturnType<typeof collect>;
const changes = (sub: Sub) => sub.results.map((r) => r.data?.['syncStatusChanged'] as Change);

describe('subscription fan-out groups', () => {
  let stack: TestStack;
  let instance: Instance;
  const closers: (() => Promise<void> | void)[] = [];

  /** The groups this process's gateways report: only `instance` has subscribers in this file. */
  const groups = () => subscriptionGroups(instance.url);
  const client = async (opts: Parameters<TestStack['token']>[0] = {}) => {
    const c = wsClient(instance.url, await stack.token(opts));
    closers.push(() => c.client.dispose());
    return c.client;
  };
  const createAccount = async (name: string, tenant = 'acme') => {
    const res = await stack.gql<{ createAccount: { id: string } }>('mutation($n: String!) { createAccount(input: { name: $n }) { id } }', { n: name }, { tenant });
    return res.body.data?.createAccount.id ?? '';
  };
  const settled = (id: string, tenant = 'acme') =>
    waitForSync(stack, tenant, async () => (await stack.db.query("SELECT 1 FROM sync.events WHERE entity_id = $1 AND state = 'SUCCEEDED' AND seq IS NOT NULL", [id])).length === 2);

  beforeAll(async () => {
    stack = await startTestStack({ accounts: 2 });
    instance = await startInstance(stack, { withBus: true });
    closers.push(() => instance.close());
  });
  afterAll(async () => {
    for (const close of closers.reverse()) await close();
    await stack.stop();
  });
  afterEach(async () => {
    for (const close of closers.splice(1).reverse()) await close();
    await eventually(async () => (await groups()) === 0);
  });

  it('two subscribers with different scopes on one document are not one group: each gets only what it may see; a third with the same scopes as the first shares its group', async () => {
    const id = await createAccount('Fan-out Scopes Ltd');
    await settled(id);
    const full = collect(await client(), WATCH, { id, after: '0' });
    const narrow = collect(await client({ scopes: ['sync:read', 'crm:read'] }), WATCH, { id, after: '0' });
    const twin = collect(await client({ sub: 'another-user' }), WATCH, { id, after: '0' });
    await Promise.all([full.next(6), narrow.next(6), twin.next(6)]);
    expect(await groups()).toBe(2);

    const done = (sub: Sub) => changes(sub).find((c) => c.event.state === 'SUCCEEDED');
    expect(done(full)?.account?.balance).not.toBeNull();
    expect(full.results.every((r) => !r.errors)).toBe(true);
    expect(done(narrow)?.account?.name).toBe('Fan-out Scopes Ltd');
    expect(done(narrow)?.account?.balance).toBeNull();
    expect(narrow.results[0]?.errors?.map((e) => [e.extensions?.['code'], e.path?.join('.')])).toContainEqual(['FORBIDDEN', 'syncStatusChanged.account.balance']);
    expect(twin.results).toEqual(full.results);

    // A live change now reaches both groups through the bus, each answered with its own rights.
    await stack.gql('mutation($id: ID!) { updateAccount(id: $id, input: { name: "Fan-out Scopes 2" }) { id } }', { id });
    await Promise.all([full.next(12), narrow.next(12), twin.next(12)]);
    expect(done({ ...full, results: full.results.slice(6) } as Sub)?.account?.balance).not.toBeNull();
    expect(narrow.results.slice(6).find((r) => (r.data?.['syncStatusChanged'] as Change).event.state === 'SUCCEEDED')?.errors?.[0]?.extensions?.['code']).toBe('FORBIDDEN');
    expect(twin.results).toEqual(full.results);
  });

  it('payload-only subscriptions of one tenant share one group whatever their scopes or resume points; two tenants never share', async () => {
    const bus = instance.bus;
    if (!bus) throw new Error('instance without a bus');
    const acmeAll = collect(await client(), PAYLOAD_ONLY);
    const acmeNarrow = collect(await client({ scopes: ['sync:read'] }), PAYLOAD_ONLY);
    const globex = collect(await client({ tenant: 'globex' }), PAYLOAD_ONLY);
    await eventually(async () => (await groups()) === 2);

    // Synthetic events far above the ledger's ids, one per tenant channel: each tenant's marker reaches only it.
    const event = (tenant: string, id: number) =>
      JSON.stringify({
        eventId: String(9_000_000_000 + id), jobId: 'job_fanout', kind: 'ACCOUNT_UPSERT', entityType: 'Account', entityId: `${tenant}-entity`, targetSystem: 'ERP',
        state: 'RUNNING', attempts: 1, errorCode: null, message: null, correlationId: `${tenant}-${id}`, at: new Date().toISOString(),
      });
    // Live-only streams: a group counted is not yet on the bus. Marker 0, republished (a repeat is dropped by its id)
    // until every subscription has it, proves each is live before the events it must get once.
    await eventually(async () => {
      await bus.publish(syncChannel('acme'), event('acme', 0));
      await bus.publish(syncChannel('globex'), event('globex', 0));
      return [acmeAll, acmeNarrow, globex].every((sub) => sub.results.length > 0);
    });
    for (let i = 1; i <= 3; i++) {
      await bus.publish(syncChannel('acme'), event('acme', i));
      await bus.publish(syncChannel('globex'), event('globex', i));
    }
    await Promise.all([acmeAll.next(4), acmeNarrow.next(4), globex.next(4)]);
    const messages = (sub: Sub) => changes(sub).map((c) => c.event.correlationId);
    expect(messages(acmeAll)).toEqual(['acme-0', 'acme-1', 'acme-2', 'acme-3']);
    expect(messages(acmeNarrow)).toEqual(['acme-0', 'acme-1', 'acme-2', 'acme-3']);
    expect(messages(globex)).toEqual(['globex-0', 'globex-1', 'globex-2', 'globex-3']);
    expect(await groups()).toBe(2);
  });

  it('a fan-out larger than one slice (fanOutSlice 2) gives every subscriber each event once, in order; one joining while events flow gets a gap-free run to the end', async () => {
    const sliced = await startInstance(stack, { withBus: true, subscriptionLimits: { fanOutSlice: 2 } });
    closers.push(() => sliced.close());
    const bus = sliced.bus;
    if (!bus) throw new Error('instance without a bus');
    const token = await stack.token({ tenant: 'globex' });
    const connection = () => {
      const c = wsClient(sliced.url, token);
      closers.push(() => c.client.dispose());
      return c.client;
    };
    const event = (n: number) =>
      JSON.stringify({
        eventId: String(9_500_000_000 + n), jobId: 'job_slices', kind: 'ACCOUNT_UPSERT', entityType: 'Account', entityId: 'globex-sliced', targetSystem: 'ERP',
        state: 'RUNNING', attempts: 1, errorCode: null, message: null, correlationId: `sliced-${n}`, at: new Date().toISOString(),
      });
    let n = 0;
    const publish = () => bus.publish(syncChannel('globex'), event(++n));
    const ids = (sub: Sub) => changes(sub).map((c) => Number(BigInt(c.eventId) - 9_500_000_000n));
    /** From the subscription's first event on, every following one, ending with the last published. */
    const gapFreeToEnd = (sub: Sub) => {
      const got = ids(sub);
      const first = got[0] ?? 0;
      expect(got).toEqual(Array.from({ length: n - first + 1 }, (_, i) => first + i));
    };
    // Seven subscriptions on five connections (two with two subscriptions each); live once each has an event.
    const shared = [connection(), connection()];
    const subs = [...shared, ...shared, connection(), connection(), connection()].map((c) => collect(c, PAYLOAD_ONLY));
    await eventually(async () => {
      const failed = subs.find((sub) => sub.error !== null);
      if (failed) throw new Error(`a subscription failed: ${JSON.stringify(failed.error)}`);
      await publish();
      return subs.every((sub) => sub.results.length > 0);
    });
    // Back to back: events wait in the group's inbox while a fan-out is between slices.
    for (let k = 0; k < 20; k++) await publish();
    await Promise.all(subs.map((sub) => sub.next(n - (ids(sub)[0] ?? 0) + 1)));
    subs.forEach(gapFreeToEnd);

    // A subscriber joining while events flow: one event at a time (each awaited by the seven) until it has one.
    const late = collect(connection(), PAYLOAD_ONLY);
    const joinedAt = n;
    while (late.results.length === 0 && n < joinedAt + 200) {
      await publish();
      await Promise.all(subs.map((sub) => sub.next(n - (ids(sub)[0] ?? 0) + 1)));
    }
    for (let k = 0; k < 10; k++) await publish();
    await Promise.all([...subs, late].map((sub) => sub.next(n - (ids(sub)[0] ?? 0) + 1)));
    expect(ids(late)[0]).toBeGreaterThan(joinedAt);
    [...subs, late].forEach(gapFreeToEnd);
  });

  it('subscribers resuming from different points share one group; each gets exactly the events after its own point, in order', async () => {
    const id = await createAccount('Fan-out Resume Co', 'globex');
    await settled(id, 'globex');
    const stored = (await stack.db.query<{ seq: string }>("SELECT seq::text FROM sync.events WHERE tenant_id = 'globex' AND job_id IS NOT NULL AND seq IS NOT NULL ORDER BY seq")).map((r) => r.seq);
    expect(stored.length).toBeGreaterThanOrEqual(6);
    const points = ['0', stored[2] ?? '0', stored[stored.length - 2] ?? '0'];
    const subs = await Promise.all(points.map(async (after) => collect(await client({ tenant: 'globex' }), PAYLOAD_ONLY, { after })));
    await Promise.all(subs.map((s, i) => s.next(stored.filter((seq) => BigInt(seq) > BigInt(points[i] ?? '0')).length)));
    expect(await groups()).toBe(1);
    subs.forEach((s, i) => {
      expect(changes(s).map((c) => c.eventId)).toEqual(stored.filter((seq) => BigInt(seq) > BigInt(points[i] ?? '0')));
    });
    // A subscriber joining later, from a point the group's recent history holds, is caught up from it, then live.
    const late = collect(await client({ tenant: 'globex' }), PAYLOAD_ONLY, { after: stored[3] });
    await late.next(stored.length - 4);
    expect(changes(late).map((c) => c.eventId)).toEqual(stored.slice(4));
    const next = await createAccount('Fan-out Resume Live', 'globex');
    await settled(next, 'globex');
    const total = (await stack.db.query("SELECT 1 FROM sync.events WHERE tenant_id = 'globex' AND job_id IS NOT NULL AND seq IS NOT NULL")).length;
    await late.next(total - 4);
    const ids = changes(late).map((c) => BigInt(c.eventId));
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual([...ids].sort((a, b) => (a < b ? -1 : 1)));
  });
});

describe('replay queue', () => {
  it('bounds concurrent replays and serves waiting tenants in turn', async () => {
    const queue = replayQueue(1);
    const order: string[] = [];
    const first = await queue.acquire('storm');
    const waits = [
      ...['storm', 'storm', 'storm'].map((t, i) => queue.acquire(t).then((release) => ({ name: `${t}${i}`, release }))),
      queue.acquire('quiet').then((release) => ({ name: 'quiet', release })),
    ];
    expect(queue.stats()).toEqual({ running: 1, waiting: 4 });
    first();
    for (let i = 0; i < waits.length; i++) {
      const granted = await Promise.race(waits.map((w, j) => w.then((g) => ({ ...g, j }))).filter((_, j) => !order.includes(String(j))));
      order.push(String(granted.j));
      expect(queue.stats().running).toBe(1);
      granted.release();
    }
    // storm0 waited first, then quiet's turn came before storm's other waiters.
    expect(order).toEqual(['0', '3', '1', '2']);
  });
});
