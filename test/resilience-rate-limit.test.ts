import { postGraphQL } from './support/http';
import { type OwnRedis, ownRedis } from './support/redis-server';
import { type TestStack, startTestStack } from './support/stack';
import { eventually } from './support/eventually';

const SMALL = '{ accounts(first: 2) { nodes { id name } } }';

/**
 * Issue 11, item 18: a principal that spent its budget stays refused while Redis is away and after Redis comes back
 * empty (it was: a fresh insurance budget at the outage, and another fresh one from the empty Redis).
 */
describe('rate-limit budget across a Redis outage', () => {
  let redis: OwnRedis;
  let stack: TestStack;
  beforeAll(async () => {
    redis = await ownRedis();
    stack = await startTestStack({
      accounts: 3,
      // 1 ms of local decisions: every admission asks Redis, so what Redis holds is what decides.
      env: { REDIS_URL: redis.url, RESPONSE_CACHE: 'off', RATE_LIMITS: JSON.stringify({ perKind: { partner: 40 }, localDecisionMs: 1 }) },
    });
  }, 120_000);
  afterAll(async () => {
    await stack?.stop();
    await redis?.stop();
  });

  it('keeps the spent budget through the outage and into the restarted (empty) Redis', async () => {
    const token = await stack.token({ kind: 'partner', sub: 'outage-partner', scopes: ['crm:read'] });
    let status = 200;
    for (let i = 0; i < 10 && status === 200; i++) status = (await postGraphQL(stack.url, SMALL, { token })).status;
    expect(status).toBe(429);
    // Another partner of the same tenant has budget left, before, during and after: only the spent one is refused.
    const other = await stack.token({ kind: 'partner', sub: 'quiet-partner', scopes: ['crm:read'] });
    expect((await postGraphQL(stack.url, SMALL, { token: other })).status).toBe(200);

    await redis.stop();
    const during = await postGraphQL(stack.url, SMALL, { token });
    expect(during.status).toBe(429);
    expect((await postGraphQL(stack.url, SMALL, { token: other })).status).toBe(200);

    // Redis comes back with no data at all (no persistence): the counters it held are gone.
    await redis.start();
    await eventually(async () => stack.redis?.status === 'ready');
    const after = await postGraphQL(stack.url, SMALL, { token });
    expect(after.status).toBe(429);
    // And the instance put its count back into Redis, where every other instance reads it.
    const inRedis = await eventually(async () => Number(await stack.redis?.get('rl:principal:acme:partner:outage-partner')) || null);
    expect(inRedis).toBeGreaterThan(40 - 7);
  });
  /** Requests a partner gets admitted before its first 429 (bounded: a broken limiter fails the test, not loops). */
  const admittedUntilRefused = async (token: string): Promise<number> => {
    for (let admitted = 0; admitted < 50; admitted++) {
      const res = await postGraphQL(stack.url, SMALL, { token });
      if (res.status === 429) return admitted;
      expect(res.status).toBe(200);
    }
    throw new Error('never refused');
  };

  it('a budget partly spent before the outage goes on from where it was (neither restarted nor lost), during and after', async () => {
    // What a fresh partner gets with Redis up: the whole budget, in requests.
    const budget = await admittedUntilRefused(await stack.token({ kind: 'partner', sub: 'measure-partner', scopes: ['crm:read'] }));
    expect(budget).toBeGreaterThan(2);
    const token = await stack.token({ kind: 'partner', sub: 'partial-partner', scopes: ['crm:read'] });
    for (let i = 0; i < 2; i++) expect((await postGraphQL(stack.url, SMALL, { token })).status).toBe(200);

    await redis.stop();
    // During the outage the instance goes on counting from its view: exactly what was left, no fresh budget.
    expect(await admittedUntilRefused(token)).toBe(budget - 2);

    await redis.start();
    await eventually(async () => stack.redis?.status === 'ready');
    expect((await postGraphQL(stack.url, SMALL, { token })).status).toBe(429);
    // Redis came back empty: the instance sends what the outage spent, then tops the key up to all it counted (the
    // spends before the outage too), for every other instance to see. Within one request's cost of the budget.
    const inRedis = await eventually(async () => {
      const n = Number(await stack.redis?.get('rl:principal:acme:partner:partial-partner'));
      return n > 40 - 7 ? n : null;
    }, 10_000);
    expect(inRedis).toBeLessThanOrEqual(40);
  });
});
