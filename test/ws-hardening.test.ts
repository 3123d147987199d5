import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { seedTenant } from '../subgraphs/registry';
import { type Instance, type TestStack, startInstance, startTestStack } from './support/stack';
import { documentHash } from '../gateway/trusted-documents';
import { postGraphQL } from './support/http';
import { waitForSync } from './support/wait';
import { collect, wsClient } from './support/ws';

/**
 * Issue 11, WebSocket part: each test attacks the subscription endpoint the way the attack pass did, through the real
 * stack (HTTP + WebSocket, Postgres, Redis), and asserts the hardened behaviour.
 */

type Sub = ReturnType<typeof collect>;
const codes = (sub: Sub) => sub.results.flatMap((r) => r.errors ?? []).map((e) => e.extensions?.['code']);
const errorCodes = (sub: Sub) => {
  const errors = sub.error;
  return Array.isArray(errors) ? errors.map((e: { extensions?: Record<string, unknown> }) => e.extensions?.['code']) : [];
};

/** A raw graphql-transport-ws socket: what an attacker sends, frame by frame. */
async function rawSocket(url: string) {
  const ws = new WebSocket(url.replace(/^http/, 'ws'), 'graphql-transport-ws');
  const frames: { type: string; id?: string; payload?: unknown }[] = [];
  let onEvent: () => void = () => undefined;
  let closeCode: number | null = null;
  ws.on('message', (raw: Buffer) => {
    frames.push(JSON.parse(raw.toString('utf8')) as { type: string });
    onEvent();
  });
  ws.on('close', (code: number) => {
    closeCode = code;
    onEvent();
  });
  // A send the server cut short ends in EPIPE/ECONNRESET on our side: expected here, the close code says why.
  ws.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const until = <T>(check: () => T | null): Promise<T> =>
    new Promise((resolve) => {
      onEvent = () => {
        const value = check();
        if (value !== null) resolve(value);
      };
      onEvent();
    });
  return {
    send: (message: unknown) => ws.send(JSON.stringify(message)),
    /** Resolves with the close code, or with the first frame of subscription `id`, whichever comes first. */
    outcome: (id: string) => until(() => (closeCode !== null ? { closed: closeCode } : frames.find((f) => f.id === id) ? { frame: frames.find((f) => f.id === id) } : null)),
    acked: () => until(() => (frames.some((f) => f.type === 'connection_ack') ? true : closeCode !== null ? false : null)),
    closed: () => until(() => closeCode),
    close: () => ws.terminate(),
  };
}

describe('subscription endpoint hardening (issue 11)', () => {
  let stack: TestStack;
  let accountId: string;
  /** Changed by the expiry test only. */
  let expiryAccountId: string;
  const closers: (() => Promise<void> | void)[] = [];

  /** A tenant of its own with one account change fully synced, then quiet: exactly one event matches `ONE_EVENT`. */
  const quietTenant = async (tenant: string) => {
    await stack.db.transaction((tx) => seedTenant(tx, tenant, 1));
    const created = await stack.gql<{ createAccount: { id: string } }>('mutation { createAccount(input: { name: "Quiet Co" }) { id } }', {}, { tenant });
    const id = created.body.data?.createAccount.id ?? '';
    await waitForSync(stack, tenant, async () =>
      (await stack.db.query("SELECT 1 FROM sync.events WHERE entity_id = $1 AND state = 'SUCCEEDED' AND seq IS NOT NULL", [id])).length === 2);
    return id;
  };
  // After replaying its one event the stream waits on the bus, where nothing more comes: the paused-generator case.
  const ONE_EVENT = 'subscription($id: ID!) { syncStatusChanged(after: "0", filter: { entityId: $id, states: [SUCCEEDED], systems: [ERP] }) { eventId } }';

  beforeAll(async () => {
    stack = await startTestStack({ accounts: 2 });
    const create = async (name: string) => {
      const created = await stack.gql<{ createAccount: { id: string } }>('mutation($n: String!) { createAccount(input: { name: $n }) { id } }', { n: name });
      const id = created.body.data?.createAccount.id ?? '';
      await waitForSync(stack, 'acme', async () =>
        (await stack.db.query("SELECT 1 FROM sync.events WHERE entity_id = $1 AND state = 'SUCCEEDED' AND seq IS NOT NULL", [id])).length === 2);
      return id;
    };
    accountId = await create('Hardening Co');
    expiryAccountId = await create('Expiry Co');
  });
  afterAll(async () => {
    for (const close of closers.reverse()) await close();
    await stack.stop();
  });

  describe('item 1: authorization of the executed root field, slots', () => {
    // The root field inside each shape; `args` are its arguments.
    const shapes: Record<string, (args: string) => string> = {
      'inline fragment': (args) => `subscription { ... on Subscription { syncStatusChanged${args} { eventId } } }`,
      'named fragment': (args) => `subscription { ...F } fragment F on Subscription { syncStatusChanged${args} { eventId } }`,
      'fragment in a fragment': (args) => `subscription { ... on Subscription { ...F } } fragment F on Subscription { syncStatusChanged${args} { eventId } }`,
      'included fragment': (args) => `subscription { ... @include(if: true) { syncStatusChanged${args} @skip(if: false) { eventId } } }`,
    };

    it.each(Object.entries(shapes))('a token without sync:read gets FORBIDDEN and no event when the root field sits in an %s', async (_shape, shape) => {
      const { client } = wsClient(stack.url, await stack.token({ scopes: [] }));
      closers.push(() => client.dispose());
      // Live, so that a build letting it through would deliver the change made below.
      const denied = collect(client, shape(`(filter: { entityId: "${accountId}" })`));
      await stack.gql('mutation($id: ID!) { updateAccount(id: $id, input: { name: "Hardening Co" }) { id } }', { id: accountId });
      await denied.next(1);
      expect(denied.results.map((r) => r.data ?? null)).toEqual([null]);
      expect(codes(denied)).toEqual(['FORBIDDEN']);

      // The same shape streams for a token that has the scope: the probe is a working subscription.
      const allowed = wsClient(stack.url, await stack.token({ scopes: ['sync:read'] }));
      closers.push(() => allowed.client.dispose());
      const sub = collect(allowed.client, shape('(after: "0")'));
      await sub.next(1);
      expect(sub.results[0]?.data?.['syncStatusChanged']).toHaveProperty('eventId');
    });

    it('refuses a root field under a directive on a variable as invalid, without closing the connection', async () => {
      // graphql-js cannot validate it (its single-root-field rule throws); that must not end the socket with 4500.
      const { client, closed } = wsClient(stack.url, await stack.token({ scopes: [] }));
      closers.push(() => client.dispose());
      let closedWith: number | null = null;
      void closed.then((code) => (closedWith = code));
      const sub = collect(client, 'subscription($y: Boolean = true) { ... @include(if: $y) { syncStatusChanged(after: "0") { eventId } } }');
      await sub.next(1);
      expect(errorCodes(sub)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
      const again = collect(client, 'subscription { syncStatusChanged(after: "0") { eventId } }');
      await again.next(1);
      expect(codes(again)).toEqual(['FORBIDDEN']);
      expect(closedWith).toBeNull();
    });

    it('a subscription ended by the client gives its slot back at once, though its stream waits on a quiet bus', async () => {
      const tenant = 'slots-complete';
      const id = await quietTenant(tenant);
      const instance: Instance = await startInstance(stack, { withBus: true, subscriptionLimits: { perTenant: 2 } });
      closers.push(() => instance.close());
      const { client } = wsClient(instance.url, await stack.token({ tenant }));
      closers.push(() => client.dispose());
      const first = collect(client, ONE_EVENT, { id });
      const second = collect(client, ONE_EVENT, { id });
      await first.next(1);
      await second.next(1);
      const third = collect(client, ONE_EVENT, { id });
      await third.next(1);
      expect(errorCodes(third)).toEqual(['SUBSCRIPTION_LIMIT']);

      first.dispose(); // `complete` on the same socket, before the next subscribe
      const fourth = collect(client, ONE_EVENT, { id });
      await fourth.next(1);
      expect(fourth.error).toBeNull();
      expect(fourth.results).toHaveLength(1);
    });

    it('a closed connection gives its slots back (its streams see return() while waiting on the bus)', async () => {
      const tenant = 'slots-close';
      const id = await quietTenant(tenant);
      const instance = await startInstance(stack, { withBus: true, subscriptionLimits: { perTenant: 2 } });
      closers.push(() => instance.close());
      const token = await stack.token({ tenant });
      const holder = wsClient(instance.url, token);
      const subs = [collect(holder.client, ONE_EVENT, { id }), collect(holder.client, ONE_EVENT, { id })];
      for (const s of subs) await s.next(1);
      await holder.client.dispose();
      await holder.closed;

      // The server learns of the close on its own socket, a moment after the client: a refusal is retried until a
      // bounded deadline (on a build that holds slots until the tenant's next event, every attempt is refused).
      const next = wsClient(instance.url, token);
      closers.push(() => next.client.dispose());
      const deadline = Date.now() + 15_000;
      let outcome: Sub;
      for (;;) {
        outcome = collect(next.client, ONE_EVENT, { id });
        await outcome.next(1);
        if (outcome.results.length === 1 || Date.now() > deadline) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(outcome.error).toBeNull();
      expect(outcome.results).toHaveLength(1);
    });

    it('caps the subscriptions of one token subject across connections; another subject of the tenant still subscribes', async () => {
      const tenant = 'slots-principal';
      const id = await quietTenant(tenant);
      const instance = await startInstance(stack, { withBus: true, subscriptionLimits: { perPrincipal: 2 } });
      closers.push(() => instance.close());
      const greedy = await stack.token({ tenant, sub: 'greedy' });
      const a = wsClient(instance.url, greedy);
      const b = wsClient(instance.url, greedy);
      closers.push(() => a.client.dispose(), () => b.client.dispose());
      const held = [collect(a.client, ONE_EVENT, { id }), collect(b.client, ONE_EVENT, { id })];
      for (const s of held) await s.next(1);
      const refused = collect(b.client, ONE_EVENT, { id });
      await refused.next(1);
      expect(errorCodes(refused)).toEqual(['SUBSCRIPTION_LIMIT']);

      const other = wsClient(instance.url, await stack.token({ tenant, sub: 'someone-else' }));
      closers.push(() => other.client.dispose());
      const admitted = collect(other.client, ONE_EVENT, { id });
      await admitted.next(1);
      expect(admitted.error).toBeNull();
      expect(admitted.results).toHaveLength(1);
    });
  });

  describe('item 2: size and parser limits before anything is kept', () => {
    it('closes with 1009 on a subscribe frame above 1 MiB, before reading it', async () => {
      const socket = await rawSocket(stack.url);
      closers.push(() => socket.close());
      socket.send({ type: 'connection_init', payload: { authorization: `Bearer ${await stack.token()}` } });
      expect(await socket.acked()).toBe(true);
      const huge = 'x'.repeat(1536 * 1024);
      // Were it read, `after` (not an event id) would be answered with an error at once.
      socket.send({ id: 'big', type: 'subscribe', payload: { query: `subscription { syncStatusChanged(after: "${huge}") { eventId } }` } });
      expect(await socket.outcome('big')).toEqual({ closed: 1009 });
    });

    it('closes with 1009 on an oversized connection_init, before any token is looked at', async () => {
      const socket = await rawSocket(stack.url);
      closers.push(() => socket.close());
      socket.send({ type: 'connection_init', payload: { authorization: `Bearer ${'a'.repeat(2 * 1024 * 1024)}` } });
      expect(await socket.closed()).toBe(1009);
    });

    const many = (n: number, item: string) => Array.from({ length: n }, () => item).join(' ');
    it.each([
      ['TOKEN_LIMIT_EXCEEDED', `subscription { syncStatusChanged(after: "0", filter: { states: [${many(3100, 'SUCCEEDED')}] }) { eventId } }`],
      ['ALIAS_LIMIT_EXCEEDED', `subscription { syncStatusChanged(after: "0") { ${Array.from({ length: 31 }, (_, i) => `a${i}: eventId`).join(' ')} } }`],
      // 14 levels: syncStatusChanged, then (account contacts edges node) three times, then id.
      ['DEPTH_LIMIT_EXCEEDED', `subscription { syncStatusChanged(after: "0") { ${'account { contacts { edges { node { '.repeat(3)}id${' } } } }'.repeat(3)} } }`],
    ])('refuses with %s, as HTTP does', async (code, query) => {
      const { client } = wsClient(stack.url, await stack.token());
      closers.push(() => client.dispose());
      const sub = collect(client, query);
      await sub.next(1);
      expect(sub.results).toEqual([]);
      expect(errorCodes(sub)).toEqual([code]);
    });
  });

  describe('item 9: the partner allowlist holds on the WebSocket too', () => {
    // Asks for entity fields (`job`, `account`) and resumes from 0: both run documents the gateway generates itself.
    const ALLOWED = 'subscription($id: ID!) { syncStatusChanged(after: "0", filter: { entityId: $id, states: [SUCCEEDED] }) { eventId job { id state } account { id name } } }';
    let locked: Instance;
    beforeAll(async () => {
      locked = await startInstance(stack, {
        withBus: true,
        config: { partnerOperations: { 'ws-partner': [documentHash(ALLOWED)] }, partnerAllowlistRequired: true },
      });
      closers.push(() => locked.close());
    });
    const partner = (sub: string) => stack.token({ kind: 'partner', sub, scopes: ['sync:read', 'crm:read'] });

    it('serves a registered document with its entity fields; refuses any other document and an unlisted partner', async () => {
      const { client } = wsClient(locked.url, await partner('ws-partner'));
      closers.push(() => client.dispose());
      const allowed = collect(client, ALLOWED, { id: accountId });
      await allowed.next(1);
      expect(allowed.error).toBeNull();
      expect(allowed.results[0]?.errors).toBeUndefined();
      expect(allowed.results[0]?.data?.['syncStatusChanged']).toMatchObject({ job: { state: 'SUCCEEDED' }, account: { id: accountId, name: expect.any(String) } });

      // The same operation with one more space is another document: not registered.
      const other = collect(client, ALLOWED.replace('{ eventId', '{  eventId'), { id: accountId });
      await other.next(1);
      expect(other.results).toEqual([]);
      expect(errorCodes(other)).toEqual(['OPERATION_NOT_ALLOWED']);

      const unlisted = wsClient(locked.url, await partner('unlisted-partner'));
      closers.push(() => unlisted.client.dispose());
      const refused = collect(unlisted.client, ALLOWED, { id: accountId });
      await refused.next(1);
      expect(refused.results).toEqual([]);
      expect(errorCodes(refused)).toEqual(['OPERATION_NOT_ALLOWED']);

      // The rule is about partners: a user token subscribes with any valid document.
      const user = wsClient(locked.url, await stack.token({ scopes: ['sync:read'] }));
      closers.push(() => user.client.dispose());
      const free = collect(user.client, 'subscription($id: ID!) { syncStatusChanged(after: "0", filter: { entityId: $id }) { eventId } }', { id: accountId });
      await free.next(1);
      expect(free.error).toBeNull();
    });

    it('a partner cannot send the documents the gateway generates for subscriptions over HTTP', async () => {
      const generated = 'query SubscriptionField($id: ID!) { result: account(id: $id) { id name } }';
      const res = await postGraphQL(locked.url, generated, { token: await partner('ws-partner'), variables: { id: accountId } });
      expect(res.status).toBe(403);
      expect(res.body.errors?.map((e) => e.extensions?.['code'])).toEqual(['OPERATION_NOT_ALLOWED']);
    });
  });

  describe('item 13: no schema suggestions in production', () => {
    let production: Instance;
    beforeAll(async () => {
      production = await startInstance(stack, { withBus: true, config: { production: true } });
      closers.push(() => production.close());
    });

    it.each([
      ['a misspelt field', 'subscription { syncStatusChanged { eventI } }', {}, 'GRAPHQL_VALIDATION_FAILED'],
      ['a misspelt enum literal', 'subscription { syncStatusChanged(filter: { states: [SUCCEDED] }) { eventId } }', {}, 'GRAPHQL_VALIDATION_FAILED'],
      ['a misspelt enum in a variable', 'subscription($s: [SyncJobState!]) { syncStatusChanged(filter: { states: $s }) { eventId } }', { s: ['SUCCEDED'] }, 'BAD_USER_INPUT'],
    ])('%s: "Did you mean" in development only', async (_what, query, variables, code) => {
      const dev = wsClient(stack.url, await stack.token());
      const prod = wsClient(production.url, await stack.token());
      closers.push(() => dev.client.dispose(), () => prod.client.dispose());
      const inDev = collect(dev.client, query, variables);
      const inProd = collect(prod.client, query, variables);
      await inDev.next(1);
      await inProd.next(1);
      expect(JSON.stringify(inDev.error)).toContain('Did you mean');
      expect(errorCodes(inProd)).toEqual([code]);
      expect(JSON.stringify(inProd.error)).not.toContain('Did you mean');
    });
  });

  it('item 15: a token valid for 30 days keeps its connection (no timer overflow)', async () => {
    const { client, closed } = wsClient(stack.url, await stack.token({ ttlSeconds: 30 * 24 * 3600 }));
    closers.push(() => client.dispose());
    let closedWith: number | null = null;
    void closed.then((code) => (closedWith = code));
    const first = collect(client, 'subscription { syncStatusChanged(after: "0") { eventId } }');
    await first.next(1);
    // A second subscribe after the first answer: a connection closed on arrival could not serve both.
    const second = collect(client, ONE_EVENT, { id: accountId });
    await second.next(1);
    expect([first.error, second.error]).toEqual([null, null]);
    expect(second.results.length).toBeGreaterThan(0);
    expect(closedWith).toBeNull();
  });

  describe('item 22: retryable close codes, errors shaped as on HTTP', () => {
    it('closes an expiring session with 4403; a client with connectionParams as a function reconnects with a fresh token and keeps receiving', async () => {
      const tokens = [await stack.token({ ttlSeconds: 2 }), await stack.token()];
      let asked = 0;
      const closes: number[] = [];
      let connects = 0;
      let reconnected: () => void = () => undefined;
      const back = new Promise<void>((resolve) => (reconnected = resolve));
      const client = createClient({
        url: stack.url.replace(/^http/, 'ws'),
        webSocketImpl: WebSocket,
        connectionParams: () => ({ authorization: `Bearer ${tokens[Math.min(asked++, 1)]}` }),
        retryAttempts: 3,
        retryWait: async () => undefined,
        on: {
          closed: (event) => void closes.push((event as { code: number }).code),
          connected: () => void (++connects === 2 && reconnected()),
        },
      });
      closers.push(() => client.dispose());
      // From the account's last event on: the resubscribed stream replays whatever the change published before it had
      // joined the bus (connected means acknowledged, not subscribed).
      const [head] = await stack.db.query<{ seq: string }>('SELECT max(seq)::text AS seq FROM sync.events WHERE entity_id = $1', [expiryAccountId]);
      const live = collect(client, 'subscription($id: ID!, $after: ID) { syncStatusChanged(after: $after, filter: { entityId: $id, states: [SUCCEEDED] }) { event { state } } }', { id: expiryAccountId, after: head?.seq });
      // The first token expires within 2 s; the client comes back on its own (or, closed for good, fails the stream).
      await Promise.race([back, live.next(1)]);
      expect(closes[0]).toBe(4403);
      expect(connects).toBe(2);
      await stack.gql('mutation($id: ID!) { updateAccount(id: $id, input: { name: "Expiry Co 2" }) { id } }', { id: expiryAccountId });
      await live.next(2); // the change reaches ERP and billing: two SUCCEEDED events on the resubscribed stream
      expect(live.error).toBeNull();
      expect(live.results).toHaveLength(2);
    });

    it.each([
      ['a variable of the wrong type', 'subscription($a: ID) { syncStatusChanged(after: $a) { eventId } }', { a: { not: 'an id' } }],
      ['a resolver refusing an argument', 'subscription { syncStatusChanged(after: "abc") { eventId } }', {}],
    ])('%s: the error has BAD_USER_INPUT and a correlationId', async (_what, query, variables) => {
      const { client } = wsClient(stack.url, await stack.token());
      closers.push(() => client.dispose());
      const sub = collect(client, query, variables);
      await sub.next(1);
      const errors = [...(Array.isArray(sub.error) ? (sub.error as { extensions?: Record<string, unknown> }[]) : []), ...sub.results.flatMap((r) => r.errors ?? [])];
      expect(errors.map((e) => e.extensions?.['code'])).toEqual(['BAD_USER_INPUT']);
      expect(errors[0]?.extensions?.['correlationId']).toEqual(expect.stringMatching(/^[A-Za-z0-9._:-]{8,128}$/));
    });
  });
});
