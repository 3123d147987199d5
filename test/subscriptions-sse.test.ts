import { type IncomingMessage, type Server, type ServerResponse, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { NetworkError, createClient } from 'graphql-sse';
import { accountChanges } from './support/accounts';
import { type Received, sseCollect } from './support/sse';
import { type Instance, type TestStack, startInstance, startTestStack } from './support/stack';
import { collect, wsClient } from './support/ws';

/**
 * Issue 16 item 4 and issue 19 item 4: GraphQL over SSE (graphql-sse, distinct connections mode) on the gateway, with
 * graphql-sse's own client, the same auth, scopes, limits, federated fields and `after` resume as the WebSocket.
 */

const WATCH = /* GraphQL */ `
  subscription Watch($id: ID!, $after: ID) {
    syncStatusChanged(filter: { entityId: $id }, after: $after) {
      eventId
      event { state }
      job { state }
      account { name balance { amountMinor } }
    }
  }
`;

interface Change {
  eventId: string;
  event: { state: string };
  job: { state: string } | null;
  account: { name: string; balance: { amountMinor: string } | null } | null;
}
const changeOf = (r: Received | undefined) => r?.data?.['syncStatusChanged'] as Change;

/** A plain HTTP/1.1 forward proxy in front of the gateway, as a corporate proxy or an ingress would be. */
async function http1Proxy(target: string): Promise<{ url: string; requests: string[]; close: () => Promise<void> }> {
  const upstream = new URL(target);
  const requests: string[] = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    requests.push(`${req.method} ${req.url}`);
    const out = request({ host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: { ...req.headers, host: upstream.host, via: '1.1 test-proxy' } }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    out.on('error', () => res.destroy());
    res.on('close', () => out.destroy());
    req.pipe(out);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('subscriptions over SSE (graphql-sse)', () => {
  let stack: TestStack;
  let streamUrl: string;
  const closers: (() => Promise<void> | void)[] = [];
  const sse = (
    token: string | null | (() => Promise<string>),
    opts: { url?: string; retryAttempts?: number; retry?: (retries: number) => Promise<void>; onConnected?: (reconnected: boolean) => void } = {},
  ) => {
    const client = createClient({
      url: opts.url ?? streamUrl,
      headers: async (): Promise<Record<string, string>> => {
        const t = typeof token === 'function' ? await token() : token;
        return t ? { authorization: `Bearer ${t}` } : {};
      },
      retryAttempts: opts.retryAttempts ?? 0,
      // Reconnect at once (the default waits seconds): the tests wait on events, not on time.
      retry: opts.retry ?? (async () => undefined),
      on: { connected: (reconnected) => opts.onConnected?.(reconnected) },
    });
    closers.push(() => client.dispose());
    return client;
  };
  const createAccount = (name: string) => accountChanges(stack).createAccount(name);
  const rename = (id: string, name: string) => accountChanges(stack).rename(id, name);
  const succeeded = (id: string, n: number) => accountChanges(stack).succeeded(id, n);

  beforeAll(async () => {
    stack = await startTestStack({ accounts: 2 });
    streamUrl = stack.url.replace(/\/graphql$/, '/graphql/stream');
  });
  afterAll(async () => {
    for (const close of closers.reverse()) await close();
    await stack.stop();
  });

  it('streams live events with federated fields through a plain HTTP/1 proxy, and resumes with `after` exactly where it left off', async () => {
    const proxy = await http1Proxy(stack.url);
    closers.push(() => proxy.close());
    const id = await createAccount('SSE Proxy Co');
    const client = sse(await stack.token(), { url: `${proxy.url}/graphql/stream` });
    const sub = sseCollect(client, WATCH, { id, after: '0' });
    await sub.next(6);
    expect(sub.state.error).toBeNull();
    expect(sub.results.every((r) => !r.errors)).toBe(true);
    const done = sub.results.map(changeOf).find((c) => c.event.state === 'SUCCEEDED');
    expect(done?.job?.state).toBe('SUCCEEDED');
    expect(done?.account?.name).toBe('SSE Proxy Co');
    expect(done?.account?.balance).not.toBeNull();
    // A change made now can only arrive live, through the bus, the fan-out and the proxy.
    await rename(id, 'SSE Proxy Co 2');
    await sub.next(12);
    expect(sub.results.slice(6).map(changeOf).filter((c) => c.event.state === 'SUCCEEDED').map((c) => c.account?.name)).toEqual(['SSE Proxy Co 2', 'SSE Proxy Co 2']);
    expect(proxy.requests).toContain('POST /graphql/stream');
    const lastSeen = changeOf(sub.results[sub.results.length - 1]).eventId;
    sub.dispose();

    // While away: two more changes. Resuming with `after` gives each missed event once, in ledger order.
    await rename(id, 'SSE Proxy Co 3');
    await succeeded(id, 6);
    await rename(id, 'SSE Proxy Co 4');
    const resumed = sseCollect(sse(await stack.token(), { url: `${proxy.url}/graphql/stream` }), WATCH, { id, after: lastSeen });
    await resumed.next(12);
    const ids = resumed.results.map((r) => changeOf(r).eventId);
    const stored = await stack.db.query<{ seq: string }>(
      "SELECT seq::text FROM sync.events WHERE tenant_id = 'acme' AND entity_id = $1 AND seq > $2 ORDER BY seq LIMIT 12", [id, lastSeen],
    );
    expect(ids).toEqual(stored.map((r) => r.seq));
    resumed.dispose();
  });

  it('applies the subscriber\'s scopes: the root field is refused without sync:read, and federated fields without finance:read', async () => {
    const refused = sseCollect(sse(await stack.token({ scopes: ['crm:read'] })), 'subscription { syncStatusChanged { eventId } }');
    await refused.ended();
    expect(refused.state.completed).toBe(true);
    expect(refused.results.map((r) => r.data ?? null)).toEqual([null]);
    expect(refused.results[0]?.errors?.map((e) => e.extensions?.['code'])).toEqual(['FORBIDDEN']);
    expect(refused.results[0]?.errors?.[0]?.extensions?.['correlationId']).toEqual(expect.any(String));

    const id = await createAccount('SSE Scoped Ltd');
    const narrow = sseCollect(sse(await stack.token({ scopes: ['sync:read', 'crm:read'] })), WATCH, { id, after: '0' });
    await narrow.next(1);
    expect(changeOf(narrow.results[0]).account?.name).toBe('SSE Scoped Ltd');
    expect(changeOf(narrow.results[0]).account?.balance).toBeNull();
    expect(narrow.results[0]?.errors?.map((e) => [e.extensions?.['code'], e.path?.join('.')])).toContainEqual(['FORBIDDEN', 'syncStatusChanged.account.balance']);
    narrow.dispose();
  });

  it('refuses a missing or invalid token with 401 UNAUTHENTICATED before any stream starts', async () => {
    for (const token of [null, 'not-a-token']) {
      const sub = sseCollect(sse(token), 'subscription { syncStatusChanged { eventId } }');
      await sub.ended();
      expect(sub.results).toEqual([]);
      expect(sub.state.error).toBeInstanceOf(NetworkError);
      const response = (sub.state.error as NetworkError).response;
      expect(response?.status).toBe(401);
    }
    const raw = await fetch(streamUrl, { method: 'POST', headers: { accept: 'text/event-stream', 'content-type': 'application/json' }, body: JSON.stringify({ query: 'subscription { syncStatusChanged { eventId } }' }) });
    expect(raw.status).toBe(401);
    expect(((await raw.json()) as { errors: { extensions: { code: string } }[] }).errors[0]?.extensions.code).toBe('UNAUTHENTICATED');
  });

  it('applies the WebSocket\'s document limits and slots: one subject\'s slots are shared by both transports', async () => {
    const instance: Instance = await startInstance(stack, { withBus: true, subscriptionLimits: { perPrincipal: 1 } });
    closers.push(() => instance.close());
    const url = instance.url.replace(/\/graphql$/, '/graphql/stream');
    const token = await stack.token({ sub: 'sse-slots' });
    const aliases = `subscription { syncStatusChanged { ${Array.from({ length: 31 }, (_, i) => `a${i}: eventId`).join(' ')} } }`;
    const tooWide = await fetch(url, { method: 'POST', headers: { accept: 'text/event-stream', 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query: aliases }) });
    expect(tooWide.status).toBe(400);
    const codes = ((await tooWide.json()) as { errors: { extensions: { code: string } }[] }).errors.map((e) => e.extensions.code);
    expect(codes).toEqual(['ALIAS_LIMIT_EXCEEDED']);

    const ws = wsClient(instance.url, token);
    closers.push(() => ws.client.dispose());
    // Resumed from the ledger's start: its first result comes whenever the subscribe lands. A live-only one waited for
    // an event after the subscribe, and on a loaded machine the account's sync could finish before it landed.
    const onWs = collect(ws.client, 'subscription($a: ID) { syncStatusChanged(after: $a) { eventId } }', { a: '0' });
    const id = await createAccount('SSE Slots Inc');
    await onWs.next(1);
    const second = sseCollect(sse(token, { url }), 'subscription { syncStatusChanged { eventId } }');
    await second.ended();
    expect((second.state.error as NetworkError).response?.status).toBe(429);
    onWs.dispose();
    // The slot is back once the WebSocket subscription completes: SSE is admitted and streams.
    await succeeded(id, 2);
    // The server learns of the completion asynchronously (another connection): the client's own retries bridge it.
    const backoff = (retries: number) => new Promise<void>((resolve) => setTimeout(resolve, 50 * (retries + 1)));
    const third = sseCollect(sse(token, { url, retryAttempts: 20, retry: backoff }), 'subscription($a: ID) { syncStatusChanged(after: $a) { eventId } }', { a: '0' });
    await third.next(1);
    expect(third.state.error).toBeNull();
    expect(third.results[0]?.errors).toBeUndefined();
    third.dispose();
  });

  it('ends the stream when the token expires; the client reconnects with fresh credentials and keeps receiving', async () => {
    let mints = 0;
    let onReconnect: () => void = () => undefined;
    const reconnected = new Promise<void>((resolve) => (onReconnect = resolve));
    const client = sse(
      () => {
        mints += 1;
        return stack.token({ ttlSeconds: mints === 1 ? 2 : 600 });
      },
      { retryAttempts: 3, onConnected: (again) => void (again && onReconnect()) },
    );
    const id = await createAccount('SSE Expiry Co');
    await succeeded(id, 2);
    // Resumes after the creation's last event, so the rename's events arrive even if one is published before the stream
    // has joined the bus (the connected callback only means the headers came). The reconnect resumes from there too.
    const [head] = await stack.db.query<{ seq: string }>("SELECT max(seq)::text AS seq FROM sync.events WHERE tenant_id = 'acme' AND entity_id = $1", [id]);
    const sub = sseCollect(client, WATCH, { id, after: head?.seq });
    // Only a change made after the reconnect is there to receive; it arrives on the second stream.
    await reconnected;
    expect(mints).toBe(2);
    await rename(id, 'SSE Expiry Co 2');
    await sub.next(6);
    expect(sub.state.error).toBeNull();
    expect(sub.results.map(changeOf).filter((c) => c.event.state === 'SUCCEEDED').map((c) => c.account?.name)).toEqual(['SSE Expiry Co 2', 'SSE Expiry Co 2']);
    sub.dispose();
  });
});
