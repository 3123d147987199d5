import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { createLogger } from '../lib/logger';
import { createRedis } from '../lib/redis';
import { SUBGRAPH_NAMES, type SubgraphName } from '../lib/schema';
import { startGateway } from '../gateway/server';
import { refusalsHeld } from '../lib/telemetry/gateway-metrics';
import { eventually } from './support/eventually';
import { codes, postGraphQL } from './support/http';
import { type TestStack, startTestStack } from './support/stack';

const SMALL = '{ accounts(first: 2) { nodes { id name } } }';

/**
 * Issue 11, item 7: one tenant's flood does not starve the others. A principal known to be over budget is refused
 * before its document is even parsed, and a tenant has a cap on operations in flight (figures: bench/fairness.ts).
 */
describe('fairness between tenants', () => {
  let stack: TestStack;
  let gatewayUrl: string;
  let close: () => Promise<void>;
  /** CRM requests held by the tap until released (the first `holdNext` that arrive). */
  let holdNext = 0;
  const held: (() => void)[] = [];
  let heldArrived: () => void = () => undefined;

  beforeAll(async () => {
    stack = await startTestStack({ accounts: 3 });
    const crm = stack.subgraphs.crm.url;
    const tap = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const forward = () => {
          const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !['host', 'content-length', 'connection'].includes(k))) as Record<string, string>;
          request(crm, { method: 'POST', headers, body: Buffer.concat(chunks) })
            .then(async (up) => res.writeHead(up.statusCode, { 'content-type': 'application/json' }).end(await up.body.text()))
            .catch(() => res.writeHead(502).end());
        };
        if (holdNext > 0) {
          holdNext -= 1;
          held.push(forward);
          if (holdNext === 0) heldArrived();
        } else forward();
      });
    });
    await new Promise<void>((resolve) => tap.listen(0, '127.0.0.1', resolve));
    const urls = Object.fromEntries(SUBGRAPH_NAMES.map((n) => [n, stack.subgraphs[n].url])) as Record<SubgraphName, string>;
    urls.crm = `http://127.0.0.1:${(tap.address() as AddressInfo).port}/graphql`;
    const redis = createRedis(stack.config.redisUrl ?? '', stack.config.redisKeyPrefix);
    const gateway = await startGateway({
      config: { ...stack.config, responseCache: false, rateLimits: { perKind: { partner: 3 }, maxConcurrentPerTenant: 2 } },
      logger: createLogger('silent', 'test'),
      redis,
      port: 0,
      subgraphUrls: urls,
    });
    gatewayUrl = gateway.url;
    close = async () => {
      await gateway.close();
      redis.disconnect();
      await new Promise<void>((resolve) => tap.close(() => resolve()));
    };
  }, 120_000);

  afterAll(async () => {
    await close?.();
    await stack?.stop();
  });

  it('refuses a principal known to be over budget before parsing its document', async () => {
    const token = await stack.token({ kind: 'partner', sub: 'flooding-partner', scopes: ['crm:read'] });
    // 2 points each: the first fits in 3, the second is refused by the limiter after planning.
    expect((await postGraphQL(gatewayUrl, SMALL, { token })).status).toBe(200);
    expect(codes(await postGraphQL(gatewayUrl, SMALL, { token }))).toEqual(['RATE_LIMITED']);
    // Now a document that does not even parse: refused for the budget, so no parser ran for it.
    const garbage = await postGraphQL(gatewayUrl, '{ accounts(first: ', { token });
    expect(garbage.status).toBe(429);
    expect(codes(garbage)).toEqual(['RATE_LIMITED']);
    expect(Number(garbage.headers.get('retry-after'))).toBeGreaterThan(0);
    // Another principal of the same tenant is not affected.
    const other = await stack.token({ kind: 'partner', sub: 'calm-partner', scopes: ['crm:read'] });
    expect((await postGraphQL(gatewayUrl, '{ accounts(first: ', { token: other })).status).toBe(400);
  });

  it('caps the operations one tenant has in flight; other tenants go on, and the cap frees as operations end', async () => {
    holdNext = 2;
    const arrived = new Promise<void>((resolve) => (heldArrived = resolve));
    const acme = await stack.token({ tenant: 'acme' });
    // Different documents: identical reads in flight would share one subgraph request.
    const first = postGraphQL(gatewayUrl, '{ accounts(first: 1) { nodes { id } } }', { token: acme });
    const second = postGraphQL(gatewayUrl, '{ accounts(first: 3) { nodes { id } } }', { token: acme });
    await arrived;
    // Two of acme's operations are in flight: the third is refused (held 1 s, see below), not queued behind them.
    const third = await postGraphQL(gatewayUrl, SMALL, { token: acme });
    expect(third.status).toBe(429);
    expect(codes(third)).toEqual(['RATE_LIMITED']);
    // globex is served meanwhile.
    const globex = await postGraphQL(gatewayUrl, SMALL, { token: await stack.token({ tenant: 'globex' }) });
    expect(globex.status).toBe(200);
    for (const release of held.splice(0)) release();
    expect((await first).status).toBe(200);
    expect((await second).status).toBe(200);
    expect((await postGraphQL(gatewayUrl, SMALL, { token: acme })).status).toBe(200);
  });

  it('holds an early refusal instead of answering a flood at once; others are served meanwhile; shutdown answers it', async () => {
    const redis = createRedis(stack.config.redisUrl ?? '', stack.config.redisKeyPrefix);
    // One place for a held refusal, held up to a minute: only the shutdown can answer it within the test's time.
    const gateway = await startGateway({
      config: { ...stack.config, responseCache: false, rateLimits: { perKind: { partner: 3 }, refusalHoldMs: 60_000, maxHeldRefusals: 1 } },
      logger: createLogger('silent', 'test'),
      redis,
      port: 0,
      subgraphUrls: Object.fromEntries(SUBGRAPH_NAMES.map((n) => [n, stack.subgraphs[n].url])) as Record<SubgraphName, string>,
    });
    let closing: Promise<void> | undefined;
    const metricsUrl = gateway.url.replace(/\/graphql$/, '/metrics');
    const heldNow = async () => Number(/^sor_refusals_held (\d+)$/m.exec(await (await fetch(metricsUrl)).text())?.[1]);
    try {
      const token = await stack.token({ kind: 'partner', sub: 'tarpit-partner', scopes: ['crm:read'] });
      expect((await postGraphQL(gateway.url, SMALL, { token })).status).toBe(200);
      // Refused by the limiter after planning (the instance did not know yet): answered at once.
      expect(codes(await postGraphQL(gateway.url, SMALL, { token }))).toEqual(['RATE_LIMITED']);
      // Now known spent: refused before its body is read, and held.
      let answered = false;
      const held = postGraphQL(gateway.url, SMALL, { token }).finally(() => (answered = true));
      await eventually(async () => (await heldNow()) === 1);
      // The one place is taken: the next refusal is answered at once (a flood cannot hold unbounded memory).
      const next = await postGraphQL(gateway.url, SMALL, { token });
      expect(next.status).toBe(429);
      expect(codes(next)).toEqual(['RATE_LIMITED']);
      // Another tenant is served while the refusal waits.
      expect((await postGraphQL(gateway.url, SMALL, { token: await stack.token({ tenant: 'globex' }) })).status).toBe(200);
      expect(answered).toBe(false);
      closing = gateway.close();
      const res = await held;
      expect(res.status).toBe(429);
      expect(codes(res)).toEqual(['RATE_LIMITED']);
      // Retry-After counts from the answer: the budget refills within the 60 s window, so at most 60 s minus the hold so far.
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(Number(res.headers.get('retry-after'))).toBeLessThanOrEqual(60);
      await closing;
      // The server is gone, so read the gauge in this process: the release set it back to 0.
      expect((await refusalsHeld.get()).values[0]?.value).toBe(0);
    } finally {
      await (closing ?? gateway.close());
      redis.disconnect();
    }
  });
});
