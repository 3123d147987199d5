import { enqueueSyncJob } from '../lib/outbox';
import { seedTenant } from '../subgraphs/registry';
import { syncChannel } from '../lib/events';
import { createRedis } from '../lib/redis';
import { eventually } from './support/eventually';
import { codes, postGraphQL } from './support/http';
import { ownRedis, type OwnRedis } from './support/redis-server';
import { type Instance, type TestStack, startInstance, startTestStack } from './support/stack';

const SMALL = '{ accounts(first: 2) { nodes { id name } } }';

describe('rate limiting and response caching on Redis', () => {
  let stack: TestStack;
  let second: Instance;
  beforeAll(async () => {
    stack = await startTestStack({
      accounts: 5,
      // localDecisionMs far above any test's length: a view, once Redis answered, decides until Redis says otherwise.
      env: { RATE_LIMITS: JSON.stringify({ perKind: { partner: 12 }, partnerOverrides: { 'big-partner': 1000 }, maxOperationCost: 5000, localDecisionMs: 60_000 }) },
    });
    second = await startInstance(stack);
  });
  afterAll(async () => {
    await second.close();
    await stack.stop();
  });

  it('spends points by estimated cost, sends RateLimit headers, and shares the budget across gateway instances', async () => {
    const token = await stack.token({ kind: 'partner', sub: 'small-partner', scopes: ['crm:read'] });
    const first = await postGraphQL(stack.url, SMALL, { token });
    expect(first.status).toBe(200);
    expect(first.headers.get('ratelimit-limit')).toBe('12');
    const remaining = Number(first.headers.get('ratelimit-remaining'));
    // @listSize on accounts sizes its nodes by `first`: 2 Account records of 1 point (scalars 0, connection 0) = 2 points.
    expect(remaining).toBe(12 - 2);
    let status = 200;
    let last = first;
    let admitted = 1;
    for (let i = 0; i < 10 && status === 200; i++) {
      last = await postGraphQL(stack.url, SMALL, { token });
      status = last.status;
      if (status === 200) admitted += 1;
    }
    expect(status).toBe(429);
    expect(codes(last)).toEqual(['RATE_LIMITED']);
    expect(Number(last.headers.get('retry-after'))).toBeGreaterThan(0);
    // The first instance sends its local spends to Redis within flushMs (gateway/rate-limit-mirror.ts): wait until
    // the shared counter holds every admitted request's points, however slow the machine, then ask the other one.
    const redis = createRedis(stack.config.redisUrl ?? '', stack.config.redisKeyPrefix);
    try {
      await eventually(async () => Number(await redis.get('rl:principal:acme:partner:small-partner')) >= admitted * 2, 10_000);
    } finally {
      redis.disconnect();
    }
    // The other instance refuses too: the budget lives in Redis.
    const other = await postGraphQL(second.url, SMALL, { token });
    expect(other.status).toBe(429);
    // Another partner with an override is unaffected.
    const big = await postGraphQL(second.url, SMALL, { token: await stack.token({ kind: 'partner', sub: 'big-partner', scopes: ['crm:read'] }) });
    expect(big.status).toBe(200);
    expect(big.headers.get('ratelimit-limit')).toBe('1000');
  });

  it('decides a busy key from the local view, spends it in Redis all the same, and refuses once Redis says spent', async () => {
    const token = await stack.token({ kind: 'partner', sub: 'mirror-partner', scopes: ['crm:read'] });
    // Read through the gateway's own Redis connection: a read answered after a spend was sent is ordered after it,
    // so once this read shows the spend the gateway has the answer to it too.
    const redisCount = async () => Number(await stack.redis?.get('rl:principal:acme:partner:mirror-partner'));
    const untilRedisCounts = async (atLeast: number) => {
      // Reached within the limiter's flush interval (20 ms); each read is one Redis round trip, not a sleep.
      const deadline = Date.now() + 5000;
      while (Date.now() < deadline) if ((await redisCount()) >= atLeast) return;
      throw new Error(`Redis never counted ${atLeast} points`);
    };
    // Instance A: the first request asks Redis, the second is decided locally; both end up counted in Redis.
    expect(Number((await postGraphQL(stack.url, SMALL, { token })).headers.get('ratelimit-remaining'))).toBe(10);
    expect(Number((await postGraphQL(stack.url, SMALL, { token })).headers.get('ratelimit-remaining'))).toBe(8);
    await untilRedisCounts(4);
    expect(await redisCount()).toBe(4);
    // Instance B asks Redis (4 spent), then decides locally until its view says the budget is spent.
    const onB: number[] = [];
    for (let i = 0; i < 6 && onB.at(-1) !== 429; i++) onB.push((await postGraphQL(second.url, SMALL, { token })).status);
    expect(onB).toEqual([200, 200, 200, 200, 429]);
    await untilRedisCounts(12);
    // B refused its fifth from its own view: that request was never sent to Redis (asked, Redis would count 14).
    expect(await redisCount()).toBe(12);
    // A's view is older than B's spends: A admits one more request, whose spend then tells A the budget is gone.
    expect((await postGraphQL(stack.url, SMALL, { token })).status).toBe(200);
    await untilRedisCounts(14);
    expect((await postGraphQL(stack.url, SMALL, { token })).status).toBe(429);
  });

  it('shares one subgraph request between identical reads in flight, but never merges writes', async () => {
    const token = await stack.token({ sub: 'dedup-user', scopes: ['crm:read', 'crm:write'] });
    // An instance without the response cache, so every one of the reads reaches the fetcher.
    const uncached = await startInstance(stack, { config: { responseCache: false } });
    stack.subgraphs.crm.statements.count = 0;
    // 20 identical reads at once (one CRM statement each if sent alone): the fetcher sends far fewer.
    const reads = await Promise.all(Array.from({ length: 20 }, () => postGraphQL(uncached.url, '{ contacts(first: 3) { nodes { id } } }', { token })));
    await uncached.close();
    expect(reads.every((r) => r.status === 200 && !r.body.errors && r.headers.get('x-cache') === null)).toBe(true);
    expect(stack.subgraphs.crm.statements.count).toBeLessThan(20);
    const before = (await stack.db.query<{ n: number }>("SELECT count(*)::int AS n FROM crm.accounts WHERE tenant_id = 'acme' AND name = 'Twin Co'"))[0]?.n;
    const writes = await Promise.all(Array.from({ length: 5 }, () => postGraphQL(second.url, 'mutation { createAccount(input: { name: "Twin Co" }) { id } }', { token })));
    expect(writes.every((r) => !r.body.errors)).toBe(true);
    const after = (await stack.db.query<{ n: number }>("SELECT count(*)::int AS n FROM crm.accounts WHERE tenant_id = 'acme' AND name = 'Twin Co'"))[0]?.n;
    expect((after ?? 0) - (before ?? 0)).toBe(5);
  });

  it('refuses an operation above the maximum cost outright', async () => {
    const res = await stack.gql('{ accounts(first: 100) { nodes { contacts(first: 100) { nodes { id email } } } } }');
    expect(res.status).toBe(400);
    expect(codes(res)).toEqual(['COST_LIMIT_EXCEEDED']);
  });

  it('serves repeated reads from the cache, per tenant and scope set, and never stale after a mutation', async () => {
    // A tenant of its own: sync jobs left by other tests (which evict their tenant's entries) cannot interfere.
    await stack.db.transaction((tx) => seedTenant(tx, 'hooli', 3));
    const query = '{ accounts(first: 3) { nodes { id name } } }';
    const own = await stack.token({ tenant: 'hooli', sub: 'cache-user' });
    const a1 = await postGraphQL(stack.url, query, { token: own });
    expect(a1.headers.get('x-cache')).toBe('MISS');
    const a2 = await postGraphQL(second.url, query, { token: own });
    expect(a2.headers.get('x-cache')).toBe('HIT');
    expect(a2.body.data).toEqual(a1.body.data);

    // Same user id in another tenant, and the same tenant with another scope set: no shared entry.
    const globex = await postGraphQL(stack.url, query, { token: await stack.token({ tenant: 'globex', sub: 'cache-user' }) });
    expect(globex.headers.get('x-cache')).toBe('MISS');
    expect(globex.body.data).not.toEqual(a1.body.data);
    const narrower = await postGraphQL(stack.url, query, { token: await stack.token({ tenant: 'hooli', sub: 'cache-user', scopes: ['crm:read'] }) });
    expect(narrower.headers.get('x-cache')).toBe('MISS');

    const id = (a1.body.data as { accounts: { nodes: { id: string }[] } }).accounts.nodes[0]?.id;
    const renamed = await postGraphQL(second.url, 'mutation($id: ID!) { updateAccount(id: $id, input: { name: "Renamed Co" }) { name } }', { token: own, variables: { id } });
    expect(renamed.body.errors).toBeUndefined();
    const a3 = await postGraphQL(stack.url, query, { token: own });
    expect(a3.headers.get('x-cache')).toBe('MISS');
    expect((a3.body.data as { accounts: { nodes: { name: string }[] } }).accounts.nodes[0]?.name).toBe('Renamed Co');
  });

  it('evicts the tenant\'s cached answers once a sync job has written its systems, and no other tenant\'s', async () => {
    // Two tenants of their own: no job left over from other tests can evict their entries meanwhile.
    for (const tenant of ['initech', 'umbrella']) await stack.db.transaction((tx) => seedTenant(tx, tenant, 2));
    const query = '{ accounts(first: 2) { nodes { id name } } }';
    const written = await stack.token({ tenant: 'initech', sub: 'sync-cache-user' });
    const untouched = await stack.token({ tenant: 'umbrella', sub: 'sync-cache-user' });
    for (const token of [written, untouched]) {
      expect((await postGraphQL(stack.url, query, { token })).headers.get('x-cache')).toBe('MISS');
      expect((await postGraphQL(stack.url, query, { token })).headers.get('x-cache')).toBe('HIT');
    }
    // A job put straight into the ledger: no gateway mutation, so only the sync engine can evict.
    const [account] = await stack.db.query<{ id: string }>("SELECT id FROM crm.accounts WHERE tenant_id = 'initech' ORDER BY id LIMIT 1");
    let settle: (state: string) => void = () => undefined;
    const ended = new Promise<string>((resolve) => (settle = resolve));
    const off = await stack.bus.subscribe(syncChannel('initech'), (message) => {
      const e = JSON.parse(message) as { correlationId: string; state: string };
      if (e.correlationId === 'cache-evict-0001' && ['SUCCEEDED', 'DEAD_LETTERED', 'COMPENSATED'].includes(e.state)) settle(e.state);
    });
    await stack.db.transaction((tx) =>
      enqueueSyncJob(tx, {
        tenant: 'initech', kind: 'ACCOUNT_UPSERT', entityType: 'Account', entityId: account?.id ?? '', sourceSystem: 'CRM', targetSystem: 'ERP',
        correlationId: 'cache-evict-0001', idempotencyKey: `cache-evict:${account?.id ?? ''}`,
      }),
    );
    stack.sync.worker.wake();
    expect(await ended).toBe('SUCCEEDED');
    await off();
    expect((await postGraphQL(stack.url, query, { token: written })).headers.get('x-cache')).toBe('MISS');
    expect((await postGraphQL(stack.url, query, { token: untouched })).headers.get('x-cache')).toBe('HIT');
  });
});

describe('when Redis goes down', () => {
  let redis: OwnRedis;
  let stack: TestStack;
  beforeAll(async () => {
    redis = await ownRedis();
    stack = await startTestStack({ accounts: 3, env: { REDIS_URL: redis.url } });
  });
  afterAll(async () => {
    await stack.stop();
    await redis.stop();
  });

  it('keeps serving (cache bypassed, insurance limiter) and uses Redis again once it is back', async () => {
    const query = '{ accounts(first: 1) { nodes { id } } }';
    const token = await stack.token({ sub: 'redis-down-user' });
    expect((await postGraphQL(stack.url, query, { token })).headers.get('x-cache')).toBe('MISS');
    expect((await postGraphQL(stack.url, query, { token })).headers.get('x-cache')).toBe('HIT');
    await redis.stop();
    const during = await postGraphQL(stack.url, query, { token });
    expect(during.status).toBe(200);
    expect(during.body.errors).toBeUndefined();
    expect(during.headers.get('x-cache')).toBe('MISS');
    expect(Number(during.headers.get('ratelimit-remaining'))).toBeGreaterThan(0);
    await redis.start();
    // ioredis reconnects by itself (retry strategy backs off up to 2 s); wait on its state, not on a clock.
    await new Promise<void>((resolve) => (stack.redis?.status === 'ready' ? resolve() : stack.redis?.once('ready', () => resolve())));
    const miss = await postGraphQL(stack.url, query, { token });
    expect(miss.status).toBe(200);
    expect((await postGraphQL(stack.url, query, { token })).headers.get('x-cache')).toBe('HIT');
  });
});
