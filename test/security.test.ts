import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair, type JWK } from 'jose';
import { redact } from '../gateway/audit';
import { readScopeOf, scopesToSeeArguments } from '../subgraphs/sync/audit-arguments';
import { documentHash } from '../gateway/trusted-documents';
import { codes, postGraphQL } from './support/http';
import { type TestStack, startTestStack } from './support/stack';

const ACCOUNT_ID = "SELECT id FROM crm.accounts WHERE tenant_id = 'acme' ORDER BY id LIMIT 1";
/**
 * An account the ERP already holds. Ids are random, so an account a test just created may sort first while its sync to
 * the ERP is still under way (then it has no finance fields yet).
 */
const CUSTOMER_ID = "SELECT a.id FROM crm.accounts a JOIN erp.customers c ON c.tenant_id = a.tenant_id AND c.id = a.id WHERE a.tenant_id = 'acme' ORDER BY a.id LIMIT 1";

describe('authorization and hardening through the real gateway', () => {
  let stack: TestStack;
  const REGISTERED = '{ accounts(first: 1) { nodes { name } } }';
  beforeAll(async () => {
    stack = await startTestStack({
      accounts: 3,
      env: { PARTNER_OPERATIONS: JSON.stringify({ 'locked-partner': [documentHash(REGISTERED)] }) },
    });
  });
  afterAll(() => stack.stop());

  it('gives a crm:read partner the name, a null balance and FORBIDDEN on that path only', async () => {
    const [row] = await stack.db.query<{ id: string }>(ACCOUNT_ID);
    const token = await stack.token({ kind: 'partner', sub: 'crm-partner', scopes: ['crm:read'] });
    const res = await postGraphQL<{ account: { name: string; balance: unknown } }>(stack.url, 'query($id: ID!) { account(id: $id) { name balance { amountMinor } } }', { token, variables: { id: row?.id } });
    expect(res.status).toBe(200);
    expect(typeof res.body.data?.account.name).toBe('string');
    expect(res.body.data?.account.balance).toBeNull();
    expect(res.body.errors?.map((e) => [e.extensions?.['code'], e.path?.join('.')])).toEqual([['FORBIDDEN', 'account.balance']]);
  });

  it('answers 403 when a denial leaves no data (2xx with a null field otherwise), and a denial reveals nothing about existence', async () => {
    const token = await stack.token({ kind: 'partner', sub: 'crm-partner', scopes: ['crm:read'] });
    const [inv] = await stack.db.query<{ id: string }>("SELECT id FROM erp.invoices WHERE tenant_id = 'acme' LIMIT 1");
    const existing = await postGraphQL(stack.url, 'query($id: ID!) { invoice(id: $id) { number } }', { token, variables: { id: inv?.id } });
    const missing = await postGraphQL(stack.url, 'query($id: ID!) { invoice(id: $id) { number } }', { token, variables: { id: 'inv_does_not_exist' } });
    // `invoice` is nullable: data is { invoice: null }, and non-null data is never answered with a 4xx.
    expect(existing.status).toBe(200);
    expect(existing.body.data).toEqual({ invoice: null });
    expect(codes(existing)).toEqual(['FORBIDDEN']);
    const strip = (r: typeof existing) => ({ status: r.status, data: r.body.data, errors: r.body.errors?.map((e) => ({ message: e.message, code: e.extensions?.['code'], path: e.path })) });
    expect(strip(missing)).toEqual(strip(existing));
    const write = await postGraphQL(stack.url, 'mutation { createAccount(input: { name: "Nope" }) { id } }', { token });
    expect(write.status).toBe(403);
    expect(codes(write)).toEqual(['FORBIDDEN']);
  });

  it('refuses abusive documents, each with its own code', async () => {
    const nest = (n: number): string => (n === 0 ? 'name' : `contacts { nodes { account { ${nest(n - 1)} } } }`);
    const deep = `{ accounts { nodes { ${nest(4)} } } }`;
    const aliases = `{ ${Array.from({ length: 31 }, (_, i) => `a${i}: plans { code }`).join(' ')} }`;
    const roots = `{ ${Array.from({ length: 21 }, (_, i) => `plan${i}: plan(id: "x${i}") { code }`).join(' ')} }`;
    const tokens = `{ plans { ${'code '.repeat(3100)} } }`;
    // 25 fragments each spreading the next twice: 2^25 paths. Walked once per spread, the limit checks take minutes
    // (past the test timeout); walked once per fragment, milliseconds.
    const fanned = `{ ...F0 } ${Array.from({ length: 25 }, (_, i) => `fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }`).join(' ')} fragment F25 on Query { plans { code } }`;
    for (const [query, code] of [
      [deep, 'DEPTH_LIMIT_EXCEEDED'], [aliases, 'ALIAS_LIMIT_EXCEEDED'], [roots, 'ROOT_FIELD_LIMIT_EXCEEDED'], [tokens, 'TOKEN_LIMIT_EXCEEDED'], [fanned, 'COST_LIMIT_EXCEEDED'],
    ] as const) {
      const res = await stack.gql(query);
      expect(res.status).toBe(400);
      expect(codes(res)).toEqual([code]);
    }
    const huge = await fetch(stack.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${await stack.token()}` }, body: JSON.stringify({ query: `{ plans { code } }`, variables: { pad: 'x'.repeat(1_100_000) } }) });
    expect(huge.status).toBe(413);
    const batch = await fetch(stack.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${await stack.token()}` }, body: JSON.stringify([{ query: '{ plans { code } }' }, { query: '{ plans { code } }' }]) });
    expect(batch.status).toBe(400);
  });

  it('limits a partner with registered documents to exactly those', async () => {
    const token = await stack.token({ kind: 'partner', sub: 'locked-partner', scopes: ['crm:read'] });
    expect((await postGraphQL(stack.url, REGISTERED, { token })).status).toBe(200);
    const other = await postGraphQL(stack.url, '{ accounts(first: 2) { nodes { name } } }', { token });
    expect(other.status).toBe(403);
    expect(codes(other)).toEqual(['OPERATION_NOT_ALLOWED']);
  });

  it('follows GraphQL over HTTP: media types, CSRF prevention, methods', async () => {
    const token = await stack.token();
    const auth = { authorization: `Bearer ${token}` };
    const modern = await fetch(stack.url, { method: 'POST', headers: { ...auth, 'content-type': 'application/json', accept: 'application/graphql-response+json' }, body: JSON.stringify({ query: '{ plans { code } }' }) });
    expect(modern.status).toBe(200);
    expect(modern.headers.get('content-type')).toContain('application/graphql-response+json');
    const parseError = await fetch(stack.url, { method: 'POST', headers: { ...auth, 'content-type': 'application/json', accept: 'application/graphql-response+json' }, body: JSON.stringify({ query: '{ plans {' }) });
    expect(parseError.status).toBe(400);
    const invalid = await fetch(stack.url, { method: 'POST', headers: { ...auth, 'content-type': 'application/json', accept: 'application/graphql-response+json' }, body: JSON.stringify({ query: '{ nope }' }) });
    expect(invalid.status).toBe(400);
    // A simple cross-site form post (text/plain) is refused by CSRF prevention; a GET needs a preflight header.
    const csrf = await fetch(stack.url, { method: 'POST', headers: { ...auth, 'content-type': 'text/plain' }, body: JSON.stringify({ query: '{ plans { code } }' }) });
    expect(csrf.status).toBe(400);
    expect(await csrf.text()).toContain('Cross-Site Request Forgery');
    const getSimple = await fetch(`${stack.url}?query=${encodeURIComponent('{ plans { code } }')}`, { headers: auth });
    expect(getSimple.status).toBe(400);
    const getOk = await fetch(`${stack.url}?query=${encodeURIComponent('{ plans { code } }')}`, { headers: { ...auth, 'apollo-require-preflight': 'true' } });
    expect(getOk.status).toBe(200);
    const getMutation = await fetch(`${stack.url}?query=${encodeURIComponent('mutation { reconcile { id } }')}`, { headers: { ...auth, 'apollo-require-preflight': 'true' } });
    expect(getMutation.status).toBe(405);
  });

  it('reports an entity one system refers to and another cannot find as an error on its path, and never caches it', async () => {
    const [sub] = await stack.db.query<{ id: string; account_id: string }>(
      "SELECT id, account_id FROM billing.subscriptions WHERE tenant_id = 'globex' ORDER BY id LIMIT 1",
    );
    const query = 'query($id: ID!) { billingSubscription(id: $id) { id account { id name } } plans { code } }';
    const token = await stack.token({ tenant: 'globex', sub: 'dangling-user' });
    // The CRM no longer has the account (as if deleted there); billing still refers to it.
    await stack.db.query("UPDATE crm.accounts SET tenant_id = 'gone' WHERE id = $1", [sub?.account_id]);
    try {
      for (let i = 0; i < 2; i++) {
        const res = await postGraphQL(stack.url, query, { token, variables: { id: sub?.id } });
        expect(res.status).toBe(200);
        // Account.name is nullable (finance and billing partners reach accounts without crm:read): the subscription
        // stays, the account's CRM fields are null, and the CRM says why on the account's path.
        expect(res.body.data).toMatchObject({ billingSubscription: { id: sub?.id, account: { id: sub?.account_id, name: null } }, plans: expect.arrayContaining([{ code: 'growth' }]) });
        expect(res.body.errors?.map((e) => [e.path, e.extensions?.['code']])).toEqual([[['billingSubscription', 'account'], 'UNRESOLVED_REFERENCE']]);
        expect(res.body.extensions?.['valueCompletion']).toBeUndefined();
        expect(res.headers.get('x-cache')).toBe('MISS');
      }
    } finally {
      await stack.db.query("UPDATE crm.accounts SET tenant_id = 'globex' WHERE id = $1", [sub?.account_id]);
    }
  });

  it('records every mutation in the audit log with secrets redacted, readable by tenant admins only', async () => {
    expect(redact({ input: { name: 'x', apiKey: 'sk_live', nested: [{ password: 'p' }] } })).toEqual({ input: { name: 'x', apiKey: '[REDACTED]', nested: [{ password: '[REDACTED]' }] } });
    // An extra (undeclared, so ignored by execution) variable is not an argument: it is not recorded at all.
    const res = await stack.gql('mutation M($input: CreateAccountInput!) { createAccount(input: $input) { id } }', { input: { name: 'Audited Ltd' }, apiKey: 'sk_live_x' }, { headers: { 'x-correlation-id': 'audit-correlation-01' } });
    expect(res.body.errors).toBeUndefined();
    const query = '{ auditEntries(first: 5) { nodes { principal tokenKind operationName fields arguments outcome correlationId } } }';
    // crm:read: the arguments of a CRM write are CRM data (a reader without it sees them redacted, next test).
    const admin = await stack.gql<{ auditEntries: { nodes: { arguments: string; correlationId: string; outcome: string; fields: string[] }[] } }>(query, {}, { token: await stack.token({ scopes: ['admin', 'crm:read'] }) });
    const entry = admin.body.data?.auditEntries.nodes.find((n) => n.correlationId === 'audit-correlation-01');
    expect(entry).toMatchObject({ outcome: 'SUCCEEDED', fields: ['createAccount'] });
    expect(entry?.arguments).toContain('Audited Ltd');
    expect(JSON.parse(entry?.arguments ?? '{}')).toEqual({ createAccount: { input: { name: 'Audited Ltd', lifecycleStage: 'LEAD' } } });
    expect(entry?.arguments).not.toContain('sk_live');
    const globexAdmin = await stack.gql<{ auditEntries: { nodes: { correlationId: string }[] } }>(query, {}, { token: await stack.token({ tenant: 'globex', scopes: ['admin'] }) });
    expect(globexAdmin.body.data?.auditEntries.nodes.some((n) => n.correlationId === 'audit-correlation-01')).toBe(false);
    const user = await stack.gql(query);
    expect(codes(user)).toEqual(['FORBIDDEN']);
  });

  it('shows an audit entry\'s argument values only to a reader with the read scope of the data they carry', async () => {
    // What a reader needs, from the policy table: a finance write's arguments are finance data, and so on.
    expect(readScopeOf('finance:write')).toBe('finance:read');
    expect(readScopeOf('crm:write')).toBe('crm:read');
    expect(readScopeOf('admin')).toBe('admin');
    expect([...scopesToSeeArguments(['setCreditLimit'])]).toEqual(['finance:read']);
    expect([...scopesToSeeArguments(['closeOpportunityWon'])]).toEqual(['crm:read']); // a sync field under crm:write
    expect([...scopesToSeeArguments(['createAccount', 'setCreditLimit'])].sort()).toEqual(['crm:read', 'finance:read']);
    expect([...scopesToSeeArguments(['noSuchMutation'])].sort()).toEqual(['billing:read', 'crm:read', 'finance:read', 'sync:read']);

    const [row] = await stack.db.query<{ id: string }>(CUSTOMER_ID);
    const account = await stack.gql<{ account: { creditLimit: { currency: string } } }>('query($id: ID!) { account(id: $id) { creditLimit { currency } } }', { id: row?.id });
    const currency = account.body.data?.account.creditLimit.currency ?? '';
    const input = { accountId: row?.id, creditLimit: { amountMinor: '7777700', currency } };
    const set = await stack.gql('mutation($input: SetCreditLimitInput!) { setCreditLimit(input: $input) { id } }', { input }, { headers: { 'x-correlation-id': 'audit-scoped-01' } });
    expect(set.body.errors).toBeUndefined();
    // Aliased and mixed with a CRM write: the entry needs both read scopes, whatever the response names say.
    const mixed = await stack.gql(
      'mutation($input: SetCreditLimitInput!) { createAccount: setCreditLimit(input: $input) { id } a: createAccount(input: { name: "Mixed Ltd" }) { id } }',
      { input }, { headers: { 'x-correlation-id': 'audit-scoped-02' } },
    );
    expect(mixed.body.errors).toBeUndefined();

    const query = '{ auditEntries(first: 10) { nodes { fields arguments correlationId } } }';
    type Entries = { auditEntries: { nodes: { fields: string[]; arguments: string; correlationId: string }[] } };
    const read = async (scopes: string[]) => {
      const res = await stack.gql<Entries>(query, {}, { token: await stack.token({ scopes }) });
      expect(res.body.errors).toBeUndefined();
      const of = (id: string) => JSON.parse(res.body.data?.auditEntries.nodes.find((n) => n.correlationId === id)?.arguments ?? 'null') as unknown;
      return { single: of('audit-scoped-01'), mixed: of('audit-scoped-02') };
    };
    const finance = await read(['admin', 'finance:read']);
    // The limit is there for a finance reader...
    expect(finance.single).toMatchObject({ setCreditLimit: { input: { accountId: row?.id, creditLimit: { amountMinor: '7777700', currency } } } });
    // ...and nowhere for an admin without finance:read: argument names only.
    const adminOnly = await read(['admin', 'crm:read', 'sync:read']);
    expect(adminOnly.single).toEqual({ setCreditLimit: { input: '[redacted]' } });
    expect(JSON.stringify(adminOnly)).not.toContain('7777700');
    expect(adminOnly.mixed).toEqual({ createAccount: { input: '[redacted]' }, a: { input: '[redacted]' } });
    // The mixed entry also ran a CRM write: finance:read alone does not show it.
    expect(finance.mixed).toEqual({ createAccount: { input: '[redacted]' }, a: { input: '[redacted]' } });
    const both = await read(['admin', 'finance:read', 'crm:read']);
    expect(both.mixed).toMatchObject({ createAccount: { input: { creditLimit: { amountMinor: '7777700' } } }, a: { input: { name: 'Mixed Ltd' } } });
  });
});

describe('production mode', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({
      accounts: 1,
      env: { NODE_ENV: 'production', JWT_SECRET: 'p'.repeat(40), GATEWAY_SIGNING_SECRET: 's'.repeat(40) },
    });
  });
  afterAll(() => stack.stop());

  it('answers introspection to admins only, hides field suggestions and stack traces', async () => {
    const introspection = '{ __schema { queryType { name } } }';
    const denied = await stack.gql(introspection);
    expect(denied.status).toBe(403);
    expect(codes(denied)).toEqual(['INTROSPECTION_DISABLED']);
    const admin = await stack.gql(introspection, {}, { token: await stack.token({ scopes: ['admin'] }) });
    expect(admin.body.data).toEqual({ __schema: { queryType: { name: 'Query' } } });
    const typo = await stack.gql('{ acounts { nodes { id } } }');
    expect(JSON.stringify(typo.body)).not.toMatch(/Did you mean/);
    const bad = await stack.gql('mutation { createAccount(input: { name: "" }) { id } }');
    expect(codes(bad)).toEqual(['BAD_USER_INPUT']);
    expect(JSON.stringify(bad.body)).not.toContain('stacktrace');
    expect(bad.body.errors?.[0]?.extensions?.['correlationId']).toEqual(expect.any(String));
  });
});

describe('tokens from an identity provider (JWKS)', () => {
  let jwks: Server;
  let keys: JWK[] = [];
  let stack: TestStack;
  const pairs: Record<string, Awaited<ReturnType<typeof generateKeyPair>>> = {};
  const addKey = async (kid: string, alg: 'RS256' | 'ES256') => {
    pairs[kid] = await generateKeyPair(alg);
    keys = [...keys, { ...(await exportJWK(pairs[kid].publicKey)), kid, alg }];
  };
  const sign = (kid: string, alg: 'RS256' | 'ES256', claims: { nbf?: number } = {}) => {
    const pair = pairs[kid];
    if (!pair) throw new Error('no key');
    const jwt = new SignJWT({ tenant: 'acme', scope: 'crm:read', kind: 'user' }).setProtectedHeader({ alg, kid }).setSubject('idp-user')
      .setIssuer(stack.config.jwt.issuer).setAudience(stack.config.jwt.audience).setExpirationTime('5m');
    if (claims.nbf) jwt.setNotBefore(claims.nbf);
    return jwt.sign(pair.privateKey);
  };
  beforeAll(async () => {
    await addKey('key-1', 'RS256');
    jwks = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys }));
    });
    await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', r));
    stack = await startTestStack({ accounts: 1, env: { JWT_JWKS_URL: `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json`, JWT_JWKS_COOLDOWN_MS: '0' } });
  });
  afterAll(async () => {
    await stack.stop();
    await new Promise((r) => jwks.close(r));
  });

  it('accepts RS256 and ES256 tokens from the key set, picks up rotated keys, and refuses HS256 and not-yet-valid tokens', async () => {
    const query = '{ accounts(first: 1) { nodes { id } } }';
    expect((await postGraphQL(stack.url, query, { token: await sign('key-1', 'RS256') })).status).toBe(200);
    await addKey('key-2', 'ES256');
    // Unknown kid: the verifier refetches the key set and finds the new key.
    expect((await postGraphQL(stack.url, query, { token: await sign('key-2', 'ES256') })).status).toBe(200);
    expect((await postGraphQL(stack.url, query, { token: await stack.token() })).status).toBe(401);
    const future = await sign('key-1', 'RS256', { nbf: Math.floor(Date.now() / 1000) + 3600 });
    expect((await postGraphQL(stack.url, query, { token: future })).status).toBe(401);
  });
});
