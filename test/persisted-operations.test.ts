import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApolloClient, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { type PersistedQueryManifest, generatePersistedQueryManifest } from '@apollo/generate-persisted-query-manifest';
import { generatePersistedQueryIdsFromManifest } from '@apollo/persisted-query-lists';
import { TSX, run } from './support/child';
import { codes, postGraphQL } from './support/http';
import { type TestStack, startTestStack } from './support/stack';

/** What the partner application's source holds: the generator reads it, Apollo Client runs it. */
const ACCOUNTS_OP = /* GraphQL */ `
  query PartnerAccounts($first: Int!) {
    accounts(first: $first) {
      nodes { id name contacts(first: 1) { nodes { email } } }
    }
  }
`;
const PLANS_OP = /* GraphQL */ `
  query PartnerPlans { plans { code name } }
`;

const REGISTER = /* GraphQL */ `
  mutation Register($partner: String!, $manifest: PersistedQueryManifestInput!) {
    registerPartnerOperations(partner: $partner, manifest: $manifest) { partner registeredBy operationCount operations { id name type } }
  }
`;

interface SeenRequest { method: string; url: string; body: Record<string, unknown> | null }

/** Apollo Client 4 as a partner would set it up: persisted-query link with ids from the manifest, InMemoryCache. */
function partnerClient(url: string, token: string, manifest: PersistedQueryManifest, opts: { get: boolean }) {
  const seen: SeenRequest[] = [];
  const recordingFetch: typeof fetch = async (input, init) => {
    const body = typeof init?.body === 'string' ? (JSON.parse(init.body) as Record<string, unknown>) : null;
    seen.push({ method: init?.method ?? 'GET', url: String(input), body });
    return fetch(input, init);
  };
  const persisted = new PersistedQueryLink({ ...generatePersistedQueryIdsFromManifest({ loadManifest: () => manifest }), useGETForHashedQueries: opts.get });
  const http = new HttpLink({
    uri: url,
    fetch: recordingFetch,
    // GET needs a header that a browser cannot send cross-site without a preflight (Apollo Server's CSRF prevention).
    headers: { authorization: `Bearer ${token}`, 'apollo-require-preflight': 'true' },
  });
  const client = new ApolloClient({ link: persisted.concat(http), cache: new InMemoryCache() });
  return { client, seen };
}

describe('persisted operations the way Apollo clients send them', () => {
  let stack: TestStack;
  let dir: string;
  let manifest: PersistedQueryManifest;
  beforeAll(async () => {
    stack = await startTestStack({ accounts: 4, env: { PARTNER_ALLOWLIST_REQUIRED: 'on' } });
    dir = mkdtempSync(join(tmpdir(), 'pq-manifest-'));
    writeFileSync(join(dir, 'accounts.graphql'), ACCOUNTS_OP);
    writeFileSync(join(dir, 'plans.graphql'), PLANS_OP);
    // The real generator, as a partner runs it in its own repository.
    manifest = await generatePersistedQueryManifest({ documents: [join(dir, '*.graphql')] }, undefined);
  });
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await stack.stop();
  });

  const admin = () => stack.token({ scopes: ['admin'], sub: 'tenant-admin' });
  const partnerToken = (sub: string, tenant = 'acme') => stack.token({ kind: 'partner', sub, tenant, scopes: ['crm:read', 'billing:read'] });

  it('refuses a partner without a list (PARTNER_ALLOWLIST_REQUIRED, the production default)', async () => {
    const res = await postGraphQL(stack.url, ACCOUNTS_OP, { token: await partnerToken('unlisted-partner'), variables: { first: 1 } });
    expect(res.status).toBe(403);
    expect(codes(res)).toEqual(['OPERATION_NOT_ALLOWED']);
  });

  it('registers a manifest by admin mutation, audited, and refuses it to non-admins', async () => {
    expect(manifest.operations.map((o) => [o.name, o.type])).toEqual([['PartnerAccounts', 'query'], ['PartnerPlans', 'query']]);
    const denied = await stack.gql(REGISTER, { partner: 'pq-partner', manifest });
    expect(codes(denied)).toEqual(['FORBIDDEN']);
    const res = await stack.gql<{ registerPartnerOperations: { operationCount: number; registeredBy: string } }>(
      REGISTER, { partner: 'pq-partner', manifest }, { token: await admin(), headers: { 'x-correlation-id': 'pq-register-0001' } },
    );
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data?.registerPartnerOperations).toMatchObject({ operationCount: 2, registeredBy: 'user:tenant-admin' });
    const audit = await stack.db.query<{ fields: string[]; outcome: string; arguments: unknown }>(
      "SELECT fields, outcome, arguments FROM sync.audit_log WHERE tenant_id = 'acme' AND correlation_id = 'pq-register-0001'",
    );
    expect(audit).toEqual([{
      fields: ['registerPartnerOperations'], outcome: 'SUCCEEDED',
      arguments: { registerPartnerOperations: { partner: 'pq-partner', manifest: expect.objectContaining({ format: 'apollo-persisted-query-manifest' }) } },
    }]);
    const bad = await stack.gql(REGISTER, { partner: 'pq-partner', manifest: { ...manifest, format: 'something-else' } }, { token: await admin() });
    expect(codes(bad)).toEqual(['BAD_USER_INPUT']);
  });

  it.each([['POST', false], ['GET', true]] as const)('serves Apollo Client 4 sending only the id (%s)', async (method, get) => {
    const { client, seen } = partnerClient(stack.url, await partnerToken('pq-partner'), manifest, { get });
    const result = await client.query({ query: gql(ACCOUNTS_OP), variables: { first: 2 }, fetchPolicy: 'network-only' });
    expect(result.error).toBeUndefined();
    const data = result.data as { accounts: { nodes: { id: string; name: string; __typename: string }[] } };
    expect(data.accounts.nodes).toHaveLength(2);
    expect(data.accounts.nodes.every((n) => n.__typename === 'Account' && typeof n.name === 'string')).toBe(true);
    // Exactly one request, carrying the manifest's id and no query text.
    expect(seen).toHaveLength(1);
    const [request] = seen;
    const id = manifest.operations.find((o) => o.name === 'PartnerAccounts')?.id;
    expect(request?.method).toBe(method);
    if (get) {
      const params = new URL(request?.url ?? '').searchParams;
      expect(params.get('query')).toBeNull();
      expect(JSON.parse(params.get('extensions') ?? '{}')).toMatchObject({ persistedQuery: { version: 1, sha256Hash: id } });
    } else {
      expect(request?.body?.['query']).toBeUndefined();
      expect(request?.body?.['extensions']).toMatchObject({ persistedQuery: { version: 1, sha256Hash: id } });
    }
  });

  it('matches full text after normalisation: reformatted, with or without __typename; anything else is refused', async () => {
    const token = await partnerToken('pq-partner');
    const reformatted = 'query PartnerAccounts($first:Int!){accounts(first:$first){nodes{id,name,contacts(first:1){nodes{email}}}}}';
    const withTypenames = 'query PartnerAccounts($first: Int!) { accounts(first: $first) { __typename nodes { __typename id name contacts(first: 1) { __typename nodes { __typename email } } } } }';
    for (const text of [ACCOUNTS_OP, reformatted, withTypenames]) {
      const res = await postGraphQL(stack.url, text, { token, variables: { first: 1 } });
      expect([res.status, res.body.errors]).toEqual([200, undefined]);
    }
    const other = await postGraphQL(stack.url, 'query PartnerAccounts($first: Int!) { accounts(first: $first) { nodes { id name domain } } }', { token, variables: { first: 1 } });
    expect(codes(other)).toEqual(['OPERATION_NOT_ALLOWED']);
    // An id the partner never registered: not found (Apollo's link then retries with the text, which is refused).
    const unknown = await fetch(stack.url, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: 'f'.repeat(64) } } }),
    });
    expect(((await unknown.json()) as { errors: { extensions: { code: string } }[] }).errors.map((e) => e.extensions.code)).toEqual(['PERSISTED_QUERY_NOT_FOUND']);
  });

  it("keeps lists per tenant: another tenant's partner with the same sub has none", async () => {
    const res = await postGraphQL(stack.url, ACCOUNTS_OP, { token: await partnerToken('pq-partner', 'globex'), variables: { first: 1 } });
    expect(codes(res)).toEqual(['OPERATION_NOT_ALLOWED']);
    const byId = await fetch(stack.url, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${await partnerToken('pq-partner', 'globex')}` },
      body: JSON.stringify({ variables: { first: 1 }, extensions: { persistedQuery: { version: 1, sha256Hash: manifest.operations[0]?.id } } }),
    });
    const body = (await byId.json()) as { data?: unknown; errors: { extensions: { code: string } }[] };
    expect(body.data ?? null).toBeNull();
    expect(body.errors.map((e) => e.extensions.code)).not.toContain(undefined);
    expect(body.errors.map((e) => e.extensions.code)).toEqual([expect.stringMatching(/^(PERSISTED_QUERY_NOT_FOUND|OPERATION_NOT_ALLOWED)$/)]);
  });

  it('registers by CLI too (npm run partner-operations), audited', async () => {
    const file = join(dir, 'persisted-query-manifest.json');
    writeFileSync(file, JSON.stringify({ ...manifest, operations: manifest.operations.filter((o) => o.name === 'PartnerPlans') }));
    const done = await run(TSX, ['scripts/partner-operations.ts', '--tenant', 'acme', '--partner', 'cli-partner', '--manifest', file], {
      env: { ...process.env, DATABASE_URL: stack.config.databaseUrl, LOG_LEVEL: 'silent' },
    });
    expect(done.stderr).toBe('');
    expect(done.stdout).toContain('registered 1 operations for cli-partner in acme');
    const token = await partnerToken('cli-partner');
    const plans = await postGraphQL<{ plans: { code: string }[] }>(stack.url, PLANS_OP, { token });
    expect(plans.body.errors).toBeUndefined();
    expect(plans.body.data?.plans.length).toBeGreaterThan(0);
    expect(codes(await postGraphQL(stack.url, ACCOUNTS_OP, { token, variables: { first: 1 } }))).toEqual(['OPERATION_NOT_ALLOWED']);
    const audit = await stack.db.query("SELECT token_kind FROM sync.audit_log WHERE tenant_id = 'acme' AND principal = 'cli' AND 'registerPartnerOperations' = ANY(fields)");
    expect(audit).toEqual([{ token_kind: 'cli' }]);
  });
});
