import { enqueueSyncJob } from '../lib/outbox';
import { type TestStack, startTestStack } from './support/stack';
import { postGraphQL } from './support/http';
import { collect, wsClient } from './support/ws';
import { eventually } from './support/eventually';

type Collected = ReturnType<typeof collect>;
const codeOf = (s: Collected): string | undefined => (s.error as { extensions?: { code?: string } }[] | null)?.[0]?.extensions?.code;

/**
 * Issue 11 ("a limit that holds on one path must hold on every path"): a subscribe over graphql-ws or SSE spends its
 * cost from the same per-principal budget as an HTTP operation, so a principal cannot subscribe without limit, and a
 * budget spent on one path is spent on the others.
 */
describe('rate limits on the subscribe paths', () => {
  let stack: TestStack;
  // `syncStatusChanged { eventId }` costs 1 point (one object), so a budget of 8 admits 8 subscribes.
  const WATCH = 'subscription { syncStatusChanged { eventId } }';
  const BUDGET = 8;
  let events = 0;
  /** One event in acme's ledger, written straight into it: no gateway operation, so no budget spent. */
  const oneEvent = async () => {
    events += 1;
    const n = events;
    await stack.db.transaction((tx) =>
      enqueueSyncJob(tx, {
        tenant: 'acme', kind: 'ACCOUNT_UPSERT', entityType: 'Account', entityId: `acc_rate_${n}`, sourceSystem: 'CRM', targetSystem: 'ERP',
        correlationId: `rate-${n}`, idempotencyKey: `rate-limit-test:${n}`,
      }),
    );
  };

  /** Spends the principal's budget with queries over HTTP until one is refused with 429. */
  const spendOverHttp = async (token: string) => {
    let status = 200;
    for (let i = 0; i < BUDGET * 3 && status !== 429; i++) status = (await postGraphQL(stack.url, '{ accounts(first: 1) { nodes { id } } }', { token })).status;
    expect(status).toBe(429);
  };

  beforeAll(async () => {
    stack = await startTestStack({ accounts: 1, env: { RESPONSE_CACHE: 'off', RATE_LIMITS: JSON.stringify({ tenantOverrides: { acme: BUDGET }, localDecisionMs: 0 }) } });
  });
  afterAll(() => stack.stop());

  it('admits subscribes while the budget lasts, refuses the next one with RATE_LIMITED, and the principal is then refused over HTTP and SSE', async () => {
    const token = await stack.token({ sub: 'subscriber' });
    const { client } = wsClient(stack.url, token);
    const subs = Array.from({ length: BUDGET }, () => collect(client, WATCH));
    const over = collect(client, WATCH);
    await over.next(1);
    expect(codeOf(over)).toBe('RATE_LIMITED');
    // The ones within budget are live: events reach every one of them (written until each has one, as a refusal of the
    // ninth proves the eight were charged, not that each has joined the bus yet).
    await eventually(async () => {
      await oneEvent();
      return subs.every((s) => s.results.length > 0 || s.error !== null);
    });
    expect(subs.map((s) => [s.error, s.results.length > 0])).toEqual(subs.map(() => [null, true]));

    const http = await postGraphQL(stack.url, '{ accounts(first: 1) { nodes { id } } }', { token });
    expect(http.status).toBe(429);
    expect(http.body.errors?.[0]?.extensions?.['code']).toBe('RATE_LIMITED');
    const sse = await fetch(stack.url.replace(/\/graphql$/, '/graphql/stream'), {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: WATCH }),
    });
    expect(await sse.text()).toContain('RATE_LIMITED');
    for (const s of subs) s.dispose();
    await client.dispose();
  });

  it('refuses a subscribe over graphql-ws from a principal that spent its budget over HTTP', async () => {
    const token = await stack.token({ sub: 'http-first' });
    await spendOverHttp(token);
    const { client } = wsClient(stack.url, token);
    const sub = collect(client, WATCH);
    await sub.next(1);
    expect(codeOf(sub)).toBe('RATE_LIMITED');
    await client.dispose();
  });

  it('slows a flood of refused subscribes as HTTP does: the WebSocket is not read for the hold, the SSE 429 is held', async () => {
    // RATE_LIMITS.refusalHoldMs is 1000 (the default); the budget refills in about 60 s, so every hold is the full second.
    const token = await stack.token({ sub: 'subscribe-flooder' });
    await spendOverHttp(token);
    const { client } = wsClient(stack.url, token);
    const first = collect(client, WATCH);
    await first.next(1);
    const firstRefused = performance.now();
    expect(codeOf(first)).toBe('RATE_LIMITED');
    // Sent only once the first is refused: the server reads it when the hold ends, not at once.
    const second = collect(client, WATCH);
    await second.next(1);
    expect(codeOf(second)).toBe('RATE_LIMITED');
    expect(performance.now() - firstRefused).toBeGreaterThanOrEqual(900);
    await client.dispose();

    const sent = performance.now();
    const sse = await fetch(stack.url.replace(/\/graphql$/, '/graphql/stream'), {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: WATCH }),
    });
    expect(sse.status).toBe(429);
    expect(await sse.text()).toContain('RATE_LIMITED');
    expect(performance.now() - sent).toBeGreaterThanOrEqual(990);
    expect(Number(sse.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });
});
