import net from 'node:net';
import { Writable } from 'node:stream';
import { getIntrospectionQuery } from 'graphql';
import pino from 'pino';
import { redact } from '../gateway/audit';
import { codes, postGraphQL } from './support/http';
import { type Instance, type TestStack, startInstance, startTestStack } from './support/stack';

/** A TCP proxy in front of a subgraph that a test can stop (the subgraph is "dead") and start again on the same port. */
class Proxy {
  private server: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();
  port = 0;
  constructor(private readonly target: URL) {}
  get url(): string {
    return `http://127.0.0.1:${this.port}${this.target.pathname}`;
  }
  async start(): Promise<void> {
    const server = net.createServer((client) => {
      const upstream = net.connect(Number(this.target.port), this.target.hostname);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => s.destroy());
      }
      client.pipe(upstream).pipe(client);
    });
    this.server = server;
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as net.AddressInfo).port;
  }
  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

type Log = Record<string, unknown>;
/** A real pino logger whose lines the test can read. */
function capturingLogger(): { logger: pino.Logger; lines: Log[] } {
  const lines: Log[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line) as Log);
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

const ACCOUNTS_WITH_SUBSCRIPTIONS = '{ accounts(first: 3) { nodes { id name creditStatus subscriptions { id status } } } }';

describe('gateway HTTP hardening (issue 11)', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ accounts: 3 });
  });
  afterAll(() => stack.stop());

  describe('a dead subgraph (item 5)', () => {
    let proxy: Proxy;
    let gateway: Instance;
    beforeAll(async () => {
      proxy = new Proxy(new URL(stack.subgraphs.billing.url));
      await proxy.start();
      gateway = await startInstance(stack, { subgraphUrls: { billing: proxy.url }, config: { responseCache: false } });
    });
    afterAll(async () => {
      await gateway.close();
      await proxy.stop();
    });

    it('answers 200 with the other systems\' data, null billing fields with SUBGRAPH_UNAVAILABLE, and recovers', async () => {
      const token = await stack.token();
      const headers = { 'x-correlation-id': 'dead-billing-0001' };
      type Accounts = { accounts: { nodes: { name: string; creditStatus: string | null; subscriptions: unknown[] | null }[] } };
      const before = await postGraphQL<Accounts>(gateway.url, ACCOUNTS_WITH_SUBSCRIPTIONS, { token, headers });
      expect(before.status).toBe(200);
      expect(before.body.data?.accounts.nodes.every((n) => Array.isArray(n.subscriptions))).toBe(true);

      await proxy.stop();
      const down = await postGraphQL<Accounts>(gateway.url, ACCOUNTS_WITH_SUBSCRIPTIONS, { token, headers });
      expect(down.status).toBe(200);
      const nodes = down.body.data?.accounts.nodes ?? [];
      expect(nodes).toHaveLength(3);
      expect(nodes.every((n) => typeof n.name === 'string' && n.subscriptions === null)).toBe(true);
      expect(nodes.some((n) => n.creditStatus !== null)).toBe(true); // the ERP still answered
      expect(down.body.errors?.map((e) => [e.extensions?.['code'], e.path?.join('.')])).toEqual(
        [0, 1, 2].map((i) => ['SUBGRAPH_UNAVAILABLE', `accounts.nodes.${i}.subscriptions`]),
      );
      expect(down.body.errors?.every((e) => e.extensions?.['correlationId'] === 'dead-billing-0001')).toBe(true);
      expect(down.body.extensions?.['correlationId']).toBe('dead-billing-0001');
      expect(down.headers.get('x-correlation-id')).toBe('dead-billing-0001');

      // Only billing asked, nothing to return: 503, still typed.
      const only = await postGraphQL(gateway.url, '{ plans { code } }', { token });
      expect(only.status).toBe(503);
      expect(codes(only)).toEqual(['SUBGRAPH_UNAVAILABLE']);

      await proxy.start();
      const back = await postGraphQL<Accounts>(gateway.url, ACCOUNTS_WITH_SUBSCRIPTIONS, { token });
      expect(back.status).toBe(200);
      expect(back.body.errors).toBeUndefined();
      expect(back.body.data?.accounts.nodes.every((n) => Array.isArray(n.subscriptions))).toBe(true);
    });
  });

  it('costs variables with their coerced values, operation defaults included (item 6)', async () => {
    const res = await stack.gql('query Big($n: Int = 250000) { accounts(first: $n) { nodes { id } } }');
    expect(res.status).toBe(400);
    expect(codes(res)).toEqual(['COST_LIMIT_EXCEEDED']);
  });

  it('keys Idempotency-Key replays by token kind too, and authorizes a replay before answering it (item 8)', async () => {
    const mutation = 'mutation($input: CreateAccountInput!) { createAccount(input: $input) { id name } }';
    const variables = { input: { name: 'Idempotent Kind Ltd' } };
    const headers = { 'idempotency-key': 'kind-and-scope-0001' };
    const first = await postGraphQL(stack.url, mutation, { variables, headers, token: await stack.token({ sub: 'same-sub' }) });
    expect(first.body.errors).toBeUndefined();
    const replay = await postGraphQL(stack.url, mutation, { variables, headers, token: await stack.token({ sub: 'same-sub' }) });
    expect(replay.headers.get('idempotent-replayed')).toBe('true');

    const noScopes = await postGraphQL(stack.url, mutation, { variables, headers, token: await stack.token({ sub: 'same-sub', scopes: [] }) });
    expect(noScopes.headers.get('idempotent-replayed')).toBeNull();
    expect(noScopes.status).toBe(403);
    expect(codes(noScopes)).toEqual(['FORBIDDEN']);
    expect(JSON.stringify(noScopes.body)).not.toContain('Idempotent Kind Ltd');

    const service = await postGraphQL<{ createAccount: { id: string } }>(stack.url, mutation, { variables, headers, token: await stack.token({ sub: 'same-sub', kind: 'service' }) });
    expect(service.headers.get('idempotent-replayed')).toBeNull();
    expect(service.body.errors).toBeUndefined();
    expect(service.body.data?.createAccount.id).not.toBe((first.body.data as { createAccount: { id: string } }).createAccount.id);
  });

  it('does not replay a stored answer to the same principal with other scopes: fields it could not read stay hidden (items 8, 12)', async () => {
    const [customer] = await stack.db.query<{ id: string; currency: string }>("SELECT id, currency FROM erp.customers WHERE tenant_id = 'acme' ORDER BY id LIMIT 1");
    const mutation = 'mutation($a: ID!, $c: String!) { setCreditLimit(input: { accountId: $a, creditLimit: { amountMinor: "424242", currency: $c }, creditStatus: OK }) { creditLimit { amountMinor } } }';
    const variables = { a: customer?.id, c: customer?.currency };
    const headers = { 'idempotency-key': 'scope-set-0001' };
    const first = await postGraphQL(stack.url, mutation, { variables, headers, token: await stack.token({ sub: 'scoped-sub' }) });
    expect(JSON.stringify(first.body.data)).toContain('424242');
    // Same tenant, kind and sub, allowed to write credit limits but not to read them.
    const narrower = await postGraphQL(stack.url, mutation, { variables, headers, token: await stack.token({ sub: 'scoped-sub', scopes: ['finance:write'] }) });
    expect(narrower.headers.get('idempotent-replayed')).toBeNull();
    expect(narrower.status).toBe(409);
    expect(codes(narrower)).toEqual(['CONFLICT']);
    expect(JSON.stringify(narrower.body)).not.toContain('424242');
    // The first caller's retry is still a replay.
    const again = await postGraphQL(stack.url, mutation, { variables, headers, token: await stack.token({ sub: 'scoped-sub' }) });
    expect(again.headers.get('idempotent-replayed')).toBe('true');
  });

  it('records arguments as executed, redacts by name and by shape, and records validation refusals (item 11)', async () => {
    expect(redact({ input: { name: 'x', credentials: 'c', pw: 'p', note: 'Bearer abc.def', key: 'sk_live_0123456789abcdef' } })).toEqual({
      input: { name: 'x', credentials: '[REDACTED]', pw: '[REDACTED]', note: '[REDACTED]', key: '[REDACTED]' },
    });
    const tag = (n: number) => ({ 'x-correlation-id': `audit-executed-000${n}` });
    await stack.gql('mutation { createAccount(input: { name: "Literal Ltd", domain: "literal.example" }) { id } }', {}, { headers: tag(1) });
    await stack.gql('mutation($pw: String!, $authorization: String) { createAccount(input: { name: $pw, owner: $authorization }) { id } }', {
      pw: 'sk_live_0123456789abcdefXYZ', authorization: 'Bearer eyJhbGciOi.eyJzdWIiOi.sig',
    }, { headers: tag(2) });
    const refused = await stack.gql('mutation { createAccount(input: { name: "Refused Ltd", nope: 1 }) { id } }', {}, { headers: tag(3) });
    expect(refused.status).toBe(400);

    const query = '{ auditEntries(first: 20) { nodes { fields arguments outcome errorCodes correlationId } } }';
    type Entry = { fields: string[]; arguments: string; outcome: string; errorCodes: string[]; correlationId: string };
    // crm:read: a CRM write's arguments are CRM data, shown only to readers of it (test/security.test.ts).
    const admin = await stack.gql<{ auditEntries: { nodes: Entry[] } }>(query, {}, { token: await stack.token({ scopes: ['admin', 'crm:read'] }) });
    const entry = (n: number) => admin.body.data?.auditEntries.nodes.find((e) => e.correlationId === `audit-executed-000${n}`);
    expect(JSON.parse(entry(1)?.arguments ?? '{}')).toEqual({ createAccount: { input: { name: 'Literal Ltd', domain: 'literal.example', lifecycleStage: 'LEAD' } } });
    expect(entry(2)?.arguments).not.toMatch(/sk_live|eyJ|Bearer/);
    expect(JSON.parse(entry(2)?.arguments ?? '{}')).toEqual({ createAccount: { input: { name: '[REDACTED]', owner: '[REDACTED]', lifecycleStage: 'LEAD' } } });
    expect(entry(3)).toMatchObject({ fields: ['createAccount'], outcome: 'FAILED', errorCodes: ['GRAPHQL_VALIDATION_FAILED'] });
    expect(entry(3)?.arguments).toContain('Refused Ltd');
  });

  it('escapes LIKE patterns in nameContains (item 16)', async () => {
    const literal = 'Like 100%_Co\\';
    await stack.gql('mutation($n: String!) { createAccount(input: { name: $n }) { id } }', { n: literal }, { tenant: 'globex' });
    for (const pattern of ['%', '_', '\\', '0%_C']) {
      const res = await stack.gql<{ accounts: { nodes: { name: string }[] } }>(
        'query($p: String) { accounts(first: 50, filter: { nameContains: $p }) { nodes { name } } }', { p: pattern }, { tenant: 'globex' },
      );
      expect(res.body.data?.accounts.nodes).toEqual([{ name: literal }]);
    }
  });

  it('answers an unknown operationName and 20,000-deep variables with 400 and a code (item 16)', async () => {
    const token = await stack.token();
    const send = (body: string) => fetch(stack.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body });
    const wrongName = await send(JSON.stringify({ query: 'query A { plans { code } }', operationName: 'B' }));
    expect(wrongName.status).toBe(400);
    expect(((await wrongName.json()) as { errors: { extensions: { code: string } }[] }).errors[0]?.extensions.code).toBe('OPERATION_RESOLUTION_FAILURE');
    const deep = `${'['.repeat(20_000)}1${']'.repeat(20_000)}`;
    for (const query of ['query($v: ID!) { account(id: $v) { id } }', 'mutation($input: CreateAccountInput!) { createAccount(input: $input) { id } }']) {
      const res = await send(`{"query":${JSON.stringify(query)},"variables":{"v":${deep},"input":${deep}}}`);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { errors: { extensions: { code: string } }[] }).errors[0]?.extensions.code).toBe('BAD_USER_INPUT');
    }
  });

  it('answers the standard introspection query where introspection is allowed, with its own depth bound (item 19)', async () => {
    const res = await stack.gql<{ __schema: { types: unknown[] } }>(getIntrospectionQuery());
    expect(res.status).toBe(200);
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data?.__schema.types.length).toBeGreaterThan(20);
    // graphql-js bounds fields/interfaces/possibleTypes nesting itself; `ofType` chains are ours to bound.
    const tooDeep = `{ __schema { types { ${'ofType { '.repeat(20)}name${' }'.repeat(20)} } } }`;
    const refused = await stack.gql(tooDeep);
    expect(refused.status).toBe(400);
    expect(codes(refused)).toEqual(['DEPTH_LIMIT_EXCEEDED']);
  });

  it('answers 2xx under application/graphql-response+json whenever data is not null, 403 only when it is (item 20)', async () => {
    const token = await stack.token({ kind: 'partner', sub: 'crm-partner', scopes: ['crm:read'] });
    const post = (query: string) =>
      fetch(stack.url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query }) });
    // Every root field denied, but `invoice` is nullable: data is { invoice: null, other: null }, not null.
    const partial = await post('{ invoice(id: "inv_x") { number } other: invoice(id: "inv_y") { number } }');
    const body = (await partial.json()) as { data: unknown; errors: { extensions: { code: string } }[] };
    expect(body.data).toEqual({ invoice: null, other: null });
    expect(body.errors.every((e) => e.extensions.code === 'FORBIDDEN')).toBe(true);
    expect(partial.status).toBe(200);
    expect(partial.headers.get('content-type')).toContain('application/graphql-response+json');
    const nothing = await post('mutation { createAccount(input: { name: "Nope" }) { id } }');
    expect(nothing.status).toBe(403);
  });

  it('refuses a subscription over HTTP with 400 and a code that points at the WebSocket (item 21)', async () => {
    const res = await stack.gql('subscription { syncStatusChanged { eventId } }');
    expect(res.status).toBe(400);
    expect(codes(res)).toEqual(['SUBSCRIPTION_REQUIRES_WEBSOCKET']);
  });

  it('authorizes status events from the policy table (one table)', async () => {
    const query = '{ statusEvents(after: "0", kinds: ["INVOICE_STATUS"]) { eventId } }';
    const without = await stack.gql(query, {}, { token: await stack.token({ scopes: ['sync:read', 'billing:read'] }) });
    expect(codes(without)).toEqual(['FORBIDDEN']);
    const withScope = await stack.gql(query, {}, { token: await stack.token({ scopes: ['finance:read'] }) });
    expect(withScope.body.errors).toBeUndefined();
  });

  it('shows stack traces in development only with DEBUG_ERRORS=1 (issue 18 item 9)', async () => {
    const bad = 'mutation { createAccount(input: { name: "" }) { id } }';
    const plain = await stack.gql(bad);
    expect(codes(plain)).toEqual(['BAD_USER_INPUT']);
    expect(JSON.stringify(plain.body)).not.toContain('stacktrace');
    const debug = await startInstance(stack, { config: { debugErrors: true } });
    try {
      const res = await postGraphQL(debug.url, bad, { token: await stack.token() });
      expect(res.body.errors?.[0]?.extensions?.['stacktrace']).toEqual(expect.arrayContaining([expect.any(String)]));
    } finally {
      await debug.close();
    }
  });

  describe('in production', () => {
    let gateway: Instance;
    let lines: Log[];
    beforeAll(async () => {
      const captured = capturingLogger();
      lines = captured.lines;
      gateway = await startInstance(stack, { logger: captured.logger, config: { production: true, partnerAllowlistRequired: true, debugErrors: false, responseCache: false } });
    });
    afterAll(() => gateway.close());

    it('refuses a partner without an allowlist (item 9)', async () => {
      const res = await postGraphQL(gateway.url, '{ accounts(first: 1) { nodes { id } } }', { token: await stack.token({ kind: 'partner', sub: 'unlisted-partner', scopes: ['crm:read'] }) });
      expect(res.status).toBe(403);
      expect(codes(res)).toEqual(['OPERATION_NOT_ALLOWED']);
      const user = await postGraphQL(gateway.url, '{ accounts(first: 1) { nodes { id } } }', { token: await stack.token() });
      expect(user.status).toBe(200);
    });

    it('logs every masked error with its correlation id, code and stack (item 14)', async () => {
      await stack.db.query('ALTER TABLE billing.plans RENAME TO plans_hidden');
      try {
        const res = await postGraphQL(gateway.url, '{ plans { code } }', { token: await stack.token(), headers: { 'x-correlation-id': 'masked-error-0001' } });
        expect(codes(res)).toEqual(['INTERNAL_SERVER_ERROR']);
        expect(res.body.errors?.[0]?.message).toBe('Internal server error');
        expect(res.body.errors?.[0]?.message).toBe('Internal server error');
        expect(JSON.stringify(res.body)).not.toMatch(/does not exist|plans_hidden/);
        const logged = lines.find((l) => l['msg'] === 'masked error' && l['correlationId'] === 'masked-error-0001');
        expect(logged).toMatchObject({ code: 'INTERNAL_SERVER_ERROR', serviceName: 'billing' });
        expect(String((logged?.['err'] as { stack?: string } | undefined)?.stack)).toMatch(/plans/);
      } finally {
        await stack.db.query('ALTER TABLE billing.plans_hidden RENAME TO plans');
      }
    });
  });
});
