import { mintToken } from '../lib/auth/tokens';
import { loadConfig } from '../lib/config';
import { createLogger } from '../lib/logger';
import { type Stack, startStack } from '../scripts/stack';
import { postGraphQL } from './support/http';
import { ALL_SCOPES } from './support/stack';

/** The `npm start` path: no DATABASE_URL, no REDIS_URL; embedded PGlite in memory. */
describe('embedded default (PGlite, no servers)', () => {
  let stack: Stack;
  const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent' });
  beforeAll(async () => {
    stack = await startStack({ config, logger: createLogger('silent', 'test'), seed: { tenants: ['acme', 'globex'], accounts: 5 }, ephemeralPorts: true });
  });
  afterAll(() => stack.stop());

  it('serves the account 360 from all three subgraphs', async () => {
    expect(stack.db.kind).toBe('pglite');
    const token = await mintToken(config.jwt, { sub: 'u', tenant: 'acme', kind: 'user', scopes: ALL_SCOPES, ttlSeconds: 60 });
    const res = await postGraphQL<{ accounts: { nodes: { name: string; balance: unknown; subscriptions: unknown[] }[] } }>(
      stack.gateway.url,
      '{ accounts(first: 5) { nodes { name balance { amountMinor currency } subscriptions { status } } } }',
      { token },
    );
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data?.accounts.nodes).toHaveLength(5);
    expect(res.body.data?.accounts.nodes.some((n) => n.subscriptions.length > 0)).toBe(true);
  });
});
