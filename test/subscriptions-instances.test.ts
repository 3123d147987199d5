import { type Client as SseClient, createClient } from 'graphql-sse';
import { accountChanges, subscriptionGroups } from './support/accounts';
import { eventually } from './support/eventually';
import { type Received, sseCollect } from './support/sse';
import { type Instance, type TestStack, startInstance, startTestStack } from './support/stack';
import { collect, wsClient } from './support/ws';

/**
 * Issue 19 items 2 and 4: subscribers across gateway instances and transports. A client cut from instance A and
 * resumed on instance B with `after` gets every event once, in ledger order (graphql-ws, SSE in both graphql-sse
 * modes); the fan-out core is one for both transports (a WebSocket and an SSE subscriber with one document share one
 * group; different scopes split groups on SSE as on WebSocket); single connection mode carries several operations on
 * one event stream.
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

interface Change {
  eventId: string;
  event: { state: string };
  account: { name: string; balance: { amountMinor: string } | null } | null;
}
const changeOf = (r: Received | undefined) => r?.data?.['syncStatusChanged'] as Change;
const eventIds = (results: readonly Received[]) => results.map((r) => changeOf(r).eventId);

/** One subscription as a test sees it, whatever the transport. */
interface Subscription {
  results: Received[];
  next(n: number): Promise<void>;
}
/** A client connection to one instance: subscribe, and close it (the cut). */
interface Connection {
  subscribe(query: string, variables: Record<string, unknown>): Subscription;
  close(): Promise<void>;
}
type Transport = (url: string, token: string) => Connection;

const streamUrl = (url: string) => url.replace(/\/graphql$/, '/graphql/stream');
const sseClient = (url: string, token: string, singleConnection: boolean, fetchFn?: typeof fetch): SseClient =>
  createClient({ url: streamUrl(url), headers: { authorization: `Bearer ${token}` }, singleConnection, retryAttempts: 0, ...(fetchFn ? { fetchFn } : {}) });

const transports: Record<string, Transport> = {
  'graphql-ws': (url, token) => {
    const { client } = wsClient(url, token);
    return { subscribe: (q, v) => collect(client, q, v), close: async () => client.dispose() };
  },
  'SSE (distinct connections)': (url, token) => {
    const client = sseClient(url, token, false);
    return { subscribe: (q, v) => sseCollect(client, q, v), close: async () => client.dispose() };
  },
  'SSE (single connection)': (url, token) => {
    const client = sseClient(url, token, true);
    return { subscribe: (q, v) => sseCollect(client, q, v), close: async () => client.dispose() };
  },
};

describe('subscriptions across gateway instances and transports', () => {
  let stack: TestStack;
  let a: Instance;
  let b: Instance;
  const closers: (() => Promise<void> | void)[] = [];

  /** Fan-out groups of every gateway in this process (only this file's subscribers exist here). */
  const groups = () => subscriptionGroups(a.url);
  const createAccount = (name: string) => accountChanges(stack).createAccount(name);
  const rename = (id: string, name: string) => accountChanges(stack).rename(id, name);
  const succeeded = (id: string, n: number) => accountChanges(stack).succeeded(id, n);
  const stored = async (id: string) =>
    (await stack.db.query<{ id: string }>("SELECT seq::text AS id FROM sync.events WHERE tenant_id = 'acme' AND entity_id = $1 AND seq IS NOT NULL ORDER BY sync.events.seq", [id])).map((r) => r.id);

  beforeAll(async () => {
    stack = await startTestStack({ accounts: 2 });
    // Two more instances with their own Redis connections: what they share goes through Redis, as between two pods.
    a = await startInstance(stack, { withBus: true });
    b = await startInstance(stack, { withBus: true });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await stack?.stop();
  });
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
    await eventually(async () => (await groups()) === 0);
  });

  it.each(Object.keys(transports))('%s: a client cut from instance A mid-stream and resumed on instance B with `after` gets every event once, in order', async (name) => {
    const transport = transports[name] as Transport;
    const token = await stack.token();
    const id = await createAccount(`Cross ${name}`);
    const onA = transport(a.url, token);
    closers.push(() => onA.close());
    const first = onA.subscribe(WATCH, { id, after: '0' });
    // Cut while the first change's events are still flowing: whatever A had in flight is lost with the connection.
    await first.next(2);
    await onA.close();
    const seen = eventIds(first.results);
    const last = seen[seen.length - 1] ?? '0';

    // While away: another change. Then the client resumes on the other instance, where a third change arrives live.
    await succeeded(id, 2);
    await rename(id, `Cross ${name} 2`);
    await succeeded(id, 4);
    const onB = transport(b.url, token);
    closers.push(() => onB.close());
    const resumed = onB.subscribe(WATCH, { id, after: last });
    const caughtUp = (await stored(id)).filter((seq) => BigInt(seq) > BigInt(last)).length;
    await resumed.next(caughtUp);
    await rename(id, `Cross ${name} 3`);
    await succeeded(id, 6);
    const all = await stored(id);
    await resumed.next(all.length - seen.length);

    expect(seen.length).toBeGreaterThanOrEqual(2);
    expect([...seen, ...eventIds(resumed.results)]).toEqual(all);
    expect(resumed.results.every((r) => !r.errors)).toBe(true);
    const names = resumed.results.map(changeOf).filter((c) => c.event.state === 'SUCCEEDED').map((c) => c.account?.name);
    expect(names.slice(-2)).toEqual([`Cross ${name} 3`, `Cross ${name} 3`]);
  });

  it('a WebSocket and an SSE subscriber with the same document share one fan-out group; different scopes split groups on SSE too', async () => {
    const id = await createAccount('Shared Transports Ltd');
    await succeeded(id, 2);
    const full = await stack.token();
    const ws = transports['graphql-ws']?.(a.url, full) as Connection;
    const sse = transports['SSE (distinct connections)']?.(a.url, full) as Connection;
    const single = transports['SSE (single connection)']?.(a.url, full) as Connection;
    closers.push(() => ws.close(), () => sse.close(), () => single.close());
    const subs = [ws, sse, single].map((c) => c.subscribe(WATCH, { id, after: '0' }));
    await Promise.all(subs.map((s) => s.next(6)));
    expect(await groups()).toBe(1);
    const [viaWs, viaSse, viaSingle] = subs.map((s) => s.results);
    expect(viaSse).toEqual(viaWs);
    expect(viaSingle).toEqual(viaWs);
    expect(viaWs?.every((r) => !r.errors)).toBe(true);

    // Narrower scopes on SSE: a group of their own, and `balance` refused there only.
    const narrow = transports['SSE (distinct connections)']?.(a.url, await stack.token({ scopes: ['sync:read', 'crm:read'] })) as Connection;
    closers.push(() => narrow.close());
    const narrowSub = narrow.subscribe(WATCH, { id, after: '0' });
    await narrowSub.next(6);
    expect(await groups()).toBe(2);
    const done = narrowSub.results.find((r) => changeOf(r).event.state === 'SUCCEEDED');
    expect(changeOf(done).account?.name).toBe('Shared Transports Ltd');
    expect(changeOf(done).account?.balance).toBeNull();
    expect(done?.errors?.map((e) => [e.extensions?.['code'], e.path?.join('.')])).toContainEqual(['FORBIDDEN', 'syncStatusChanged.account.balance']);

    // A live change reaches all four, each group answering with its own rights.
    await rename(id, 'Shared Transports 2');
    await Promise.all([...subs, narrowSub].map((s) => s.next(12)));
    expect(changeOf(viaWs?.[11]).account?.balance).not.toBeNull();
    expect(viaSse).toEqual(viaWs);
    expect(changeOf(narrowSub.results[11]).account?.balance).toBeNull();
  });

  it('single connection mode: one PUT, one event stream for several operations, each stopped by DELETE with its operationId', async () => {
    const requests: string[] = [];
    const recording: typeof fetch = async (input, init) => {
      const accept = new Headers(init?.headers).get('accept') ?? '';
      requests.push(`${init?.method ?? 'GET'}${accept.includes('text/event-stream') ? ' stream' : ''}`);
      return fetch(input, init);
    };
    const client = sseClient(a.url, await stack.token(), true, recording);
    closers.push(() => client.dispose());
    const id = await createAccount('Single Stream Co');
    const other = await createAccount('Single Stream Other');
    const one = sseCollect(client, WATCH, { id, after: '0' });
    const two = sseCollect(client, WATCH, { id: other, after: '0' });
    await Promise.all([one.next(6), two.next(6)]);
    expect(requests.filter((r) => r === 'PUT')).toHaveLength(1);
    expect(requests.filter((r) => r === 'GET stream')).toHaveLength(1);
    expect(requests.filter((r) => r === 'POST')).toHaveLength(2);
    expect(new Set(eventIds(one.results)).size).toBe(6);
    expect(eventIds(one.results)).toEqual((await stored(id)).slice(0, 6));
    expect(eventIds(two.results)).toEqual((await stored(other)).slice(0, 6));

    // Stopping one operation leaves the other running on the same stream.
    one.dispose();
    await eventually(async () => requests.includes('DELETE'));
    await rename(other, 'Single Stream Other 2');
    await two.next(12);
    expect(one.results).toHaveLength(6);
    expect(requests.filter((r) => r === 'GET stream')).toHaveLength(1);
  });

  it('single connection mode refuses what the protocol refuses: no token on PUT, an unknown reservation, a second stream, an operation without operationId', async () => {
    const url = streamUrl(a.url);
    expect((await fetch(url, { method: 'PUT' })).status).toBe(401);
    const unknown = await fetch(url, { method: 'GET', headers: { accept: 'text/event-stream', 'x-graphql-event-stream-token': 'nope' } });
    expect(unknown.status).toBe(404);
    const put = await fetch(url, { method: 'PUT', headers: { authorization: `Bearer ${await stack.token()}` } });
    expect(put.status).toBe(201);
    const token = await put.text();
    const headers = { 'x-graphql-event-stream-token': token };
    const noId = await fetch(url, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ query: 'subscription { syncStatusChanged { eventId } }' }) });
    expect(noId.status).toBe(400);
    const controller = new AbortController();
    closers.push(() => controller.abort());
    const stream = await fetch(`${url}?token=${encodeURIComponent(token)}`, { headers: { accept: 'text/event-stream' }, signal: controller.signal });
    expect(stream.status).toBe(200);
    const second = await fetch(url, { headers: { ...headers, accept: 'text/event-stream' } });
    expect(second.status).toBe(409);
    const refused = await fetch(url, {
      method: 'POST', headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ query: `subscription { syncStatusChanged { ${Array.from({ length: 31 }, (_, i) => `a${i}: eventId`).join(' ')} } }`, extensions: { operationId: 'x' } }),
    });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { errors: { extensions: { code: string } }[] }).errors.map((e) => e.extensions.code)).toEqual(['ALIAS_LIMIT_EXCEEDED']);
    expect((await fetch(`${url}?operationId=x`, { method: 'DELETE', headers })).status).toBe(200);
  });
});
