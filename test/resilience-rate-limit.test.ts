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
      env: { REDIS_URL: redis.url, RESPONSE_CACHE: 'off', RATE_LIMITS: JSON.stringify({ perKind: { partner: 12 }, localDecisionMs: 1 }) },
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
    expect(inRedis).toBeGreaterThan(12 - 2);
  });
});
