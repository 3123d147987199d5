import { fairShareQueued } from '../lib/telemetry/gateway-metrics';
import { eventually } from './support/eventually';
import { codes, postGraphQL } from './support/http';
import { type Instance, type TestStack, startInstance, startTestStack } from './support/stack';
import { type Tap, startTap } from './support/tap';

/**
 * Issue 17 item 3 / issue 11 item 7: refusals cost next to nothing, and a tenant's work in flight is bounded by cost
 * so another tenant's operations never queue behind it.
 */
describe('tenant fair share', () => {
  let stack: TestStack;
  let gateway: Instance;
  let crm: Tap;
  const queued = async () => (await fairShareQueued.get()).values[0]?.value ?? 0;

  beforeAll(async () => {
    stack = await startTestStack({ accounts: 4 });
    crm = await startTap(stack.subgraphs.crm.url);
    gateway = await startInstance(stack, {
      config: {
        responseCache: false,
        subgraphDedup: false,
        rateLimits: { perKind: { partner: 3 }, maxInFlightCostPerTenant: 5, maxQueuedPerTenant: 1, maxQueueWaitMs: 60_000 },
      },
      subgraphUrls: { crm: crm.url },
    });
  });
  afterAll(async () => {
    await gateway.close();
    await crm.close();
    await stack.stop();
  });

  it('refuses a principal known to be over budget before reading its body', async () => {
    const token = await stack.token({ kind: 'partner', sub: 'early-partner', scopes: ['crm:read'] });
    const small = '{ accounts(first: 2) { nodes { id } } }';
    expect((await postGraphQL(gateway.url, small, { token })).status).toBe(200);
    expect((await postGraphQL(gateway.url, small, { token })).status).toBe(429);
    // A body past the 1 MB limit answers 413 when it is read; known spent, it is not read at all.
    const huge = await fetch(gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: `{ ${'a'.repeat(2_000_000)} }` }),
    });
    expect(huge.status).toBe(429);
    expect(Number(huge.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await huge.json()) as { errors: { extensions: { code: string } }[] }).errors[0]?.extensions.code).toBe('RATE_LIMITED');
    // Another principal's oversized body is read and refused for its size.
    const other = await stack.token({ kind: 'partner', sub: 'other-partner', scopes: ['crm:read'] });
    const big = await fetch(gateway.url, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${other}` }, body: JSON.stringify({ query: `{ ${'a'.repeat(2_000_000)} }` }),
    });
    expect(big.status).toBe(413);
  });

  it("holds a tenant's operations past its in-flight cost while another tenant is served, and refuses past its queue", async () => {
    const acme = await stack.token({ tenant: 'acme', sub: 'share-user' });
    const globex = await stack.token({ tenant: 'globex', sub: 'share-user' });
    crm.hold();
    // 3 points each (3 accounts): the first is admitted and held at the CRM; the second would make 6 > 5 and waits.
    const first = postGraphQL(gateway.url, '{ accounts(first: 3) { nodes { id } } }', { token: acme });
    await eventually(async () => crm.holding === 1);
    const base = await queued();
    const second = postGraphQL(gateway.url, '{ accounts(first: 3) { nodes { name } } }', { token: acme });
    await eventually(async () => (await queued()) === base + 1);
    // The queue holds one: a third is refused at once.
    const third = await postGraphQL(gateway.url, '{ accounts(first: 3) { nodes { id name } } }', { token: acme });
    expect(third.status).toBe(429);
    expect(codes(third)).toEqual(['RATE_LIMITED']);
    // Refused before its body is read, too: an oversized one is not answered 413.
    const oversized = await fetch(gateway.url, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${acme}` }, body: JSON.stringify({ query: `{ ${'a'.repeat(2_000_000)} }` }),
    });
    expect(oversized.status).toBe(429);
    // globex is not behind acme's queue: admitted at once (held at the CRM tap like everything now).
    const other = postGraphQL(gateway.url, '{ accounts(first: 3) { nodes { id } } }', { token: globex });
    await eventually(async () => crm.holding === 2);
    expect(crm.holding).toBe(2);
    crm.release();
    const [a, b, g] = await Promise.all([first, second, other]);
    expect([a.status, b.status, g.status]).toEqual([200, 200, 200]);
    expect(await queued()).toBe(base);
  });
});
