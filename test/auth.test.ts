import { SignJWT } from 'jose';
import { FORWARDED_CLAIMS_HEADER, claimsSigner } from '../lib/auth/forwarded';
import { codes, postGraphQL } from './support/http';
import { type TestStack, startTestStack } from './support/stack';

const QUERY = '{ accounts(first: 1) { nodes { id } } }';

describe('authentication at the gateway and gateway-only subgraphs', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ accounts: 3 });
  });
  afterAll(() => stack.stop());

  it('rejects a request without a token with 401 UNAUTHENTICATED', async () => {
    const res = await postGraphQL(stack.url, QUERY);
    expect(res.status).toBe(401);
    expect(codes(res)).toEqual(['UNAUTHENTICATED']);
    expect(res.body.data).toBeUndefined();
  });

  it('rejects a token signed with another secret, an expired token and a wrong audience', async () => {
    const key = (s: string) => new TextEncoder().encode(s);
    const now = Math.floor(Date.now() / 1000);
    const base = () => new SignJWT({ tenant: 'acme', scope: 'crm:read' }).setProtectedHeader({ alg: 'HS256' }).setSubject('x').setIssuer(stack.config.jwt.issuer);
    const forged = await base().setAudience(stack.config.jwt.audience).setExpirationTime(now + 60).sign(key('another-secret-that-is-long-enough-000000'));
    const expired = await base().setAudience(stack.config.jwt.audience).setExpirationTime(now - 10).sign(key(stack.config.jwt.secret));
    const wrongAudience = await base().setAudience('someone-else').setExpirationTime(now + 60).sign(key(stack.config.jwt.secret));
    for (const token of [forged, expired, wrongAudience, 'not-a-jwt']) {
      const res = await postGraphQL(stack.url, QUERY, { token });
      expect(res.status).toBe(401);
      expect(codes(res)).toEqual(['UNAUTHENTICATED']);
    }
  });

  it('serves a valid token and returns the correlation id it was given', async () => {
    const res = await postGraphQL(stack.url, QUERY, { token: await stack.token(), headers: { 'x-correlation-id': 'test-correlation-0001' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-correlation-id')).toBe('test-correlation-0001');
    expect(res.body.extensions?.['correlationId']).toBe('test-correlation-0001');
  });

  it('subgraphs refuse direct calls, including _entities, unless the gateway signed them', async () => {
    const entities = '{ _entities(representations: [{ __typename: "Account", id: "x" }]) { ... on Account { id } } }';
    for (const name of ['crm', 'erp', 'billing'] as const) {
      const url = stack.subgraphs[name].url;
      const unsigned = await postGraphQL(url, entities);
      expect(unsigned.status).toBe(401);
      const forgedHeader = await claimsSigner('a-forged-secret-that-is-long-enough-00000')({ sub: 'x', tenant: 'acme', kind: 'service', scopes: new Set(), exp: Math.floor(Date.now() / 1000) + 60 }, { query: '{ _service { sdl } }' });
      const forged = await postGraphQL(url, '{ _service { sdl } }', { headers: { [FORWARDED_CLAIMS_HEADER]: forgedHeader } });
      expect(forged.status).toBe(401);
      // A user's own token is not a gateway signature either.
      const userToken = await postGraphQL(url, entities, { headers: { [FORWARDED_CLAIMS_HEADER]: await stack.token() } });
      expect(userToken.status).toBe(401);
    }
  });

  it('health and readiness endpoints answer on every service', async () => {
    for (const url of [stack.url, ...Object.values(stack.subgraphs).map((s) => s.url)]) {
      expect((await fetch(url.replace('/graphql', '/healthz'))).status).toBe(200);
      expect((await fetch(url.replace('/graphql', '/readyz'))).status).toBe(200);
    }
  });
});
