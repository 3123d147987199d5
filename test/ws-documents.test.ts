import { buildSchema } from 'graphql';
import { DEFAULT_OPERATION_LIMITS } from '../gateway/operation-limits';
import { documentChecker } from '../gateway/subscriptions/documents';
import { DEFAULT_SUBSCRIPTION_LIMITS, subscriptionLimits } from '../gateway/subscriptions/server';

const schema = buildSchema('type Query { ok: Boolean } type Subscription { ticks(label: String, n: [Int!]): Int }');

describe('subscription document cache', () => {
  it('keys checked documents by hash within a byte budget, however many distinct texts arrive', async () => {
    const budget = 64 * 1024;
    const checker = documentChecker(schema, { limits: DEFAULT_OPERATION_LIMITS, cacheBytes: budget, hideSuggestions: true });
    const query = (i: number) => `subscription { ticks(label: "${String(i).padStart(4096, 'x')}") }`;
    for (let i = 0; i < 100; i++) expect(await checker.check(query(i))).toHaveProperty('document');
    const { entries, bytes } = checker.cached();
    expect(bytes).toBeLessThanOrEqual(budget);
    expect(entries).toBeGreaterThan(0);
    expect(entries).toBeLessThan(100);
    // The most recent text is a hit: the very same checked result, not a second parse.
    expect(await checker.check(query(99))).toBe(await checker.check(query(99)));
  });

  it("applies the HTTP parser's token limit, so a huge document is refused before it is kept", async () => {
    const checker = documentChecker(schema, { limits: DEFAULT_OPERATION_LIMITS, cacheBytes: 1024 * 1024, hideSuggestions: true });
    const many = Array.from({ length: DEFAULT_OPERATION_LIMITS.maxTokens }, (_, i) => i).join(' ');
    const checked = await checker.check(`subscription { ticks(n: [${many}]) }`);
    expect('errors' in checked && checked.errors.map((e) => e.extensions['code'])).toEqual(['TOKEN_LIMIT_EXCEEDED']);
    // Only the small refusal is cached, not a document of thousands of tokens.
    expect(checker.cached().bytes).toBeLessThan(1024);
  });
});

describe('SUBSCRIPTION_LIMITS', () => {
  it('overrides the defaults and fails fast on an unknown key or a bad value', () => {
    expect(subscriptionLimits({ maxPayloadBytes: 65536 })).toEqual({ ...DEFAULT_SUBSCRIPTION_LIMITS, maxPayloadBytes: 65536 });
    expect(() => subscriptionLimits({ maxPayload: 1 })).toThrow(/SUBSCRIPTION_LIMITS/);
    expect(() => subscriptionLimits({ perPrincipal: 0 })).toThrow(/SUBSCRIPTION_LIMITS\.perPrincipal/);
  });
});
