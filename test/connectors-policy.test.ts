import { randomBytes } from 'node:crypto';
import { AuthError, TransientError } from '../lib/connectors/errors';
import { type OutboundHealth, policyOutbound } from '../lib/connectors/outbound-policy';
import { describeSecret, keyRing, keyRingFromEnv } from '../lib/connectors/secret-box';

const key = (id: string) => ({ id, key: randomBytes(32) });

describe('connection credentials at rest (AES-256-GCM envelope)', () => {
  it('seals without the secret in the stored form and opens it again', () => {
    const ring = keyRing([key('k1')]);
    const sealed = ring.seal('sk_test_4eC39HqLyjWDarjtT1zdp7dc', 'connection|acme|conn_1');
    expect(JSON.stringify(sealed)).not.toContain('sk_test');
    expect(sealed.kid).toBe('k1');
    expect(ring.open(sealed, 'connection|acme|conn_1')).toBe('sk_test_4eC39HqLyjWDarjtT1zdp7dc');
  });

  it('refuses a ciphertext moved to another connection or tampered with', () => {
    const ring = keyRing([key('k1')]);
    const sealed = ring.seal('secret-value', 'connection|acme|conn_1');
    expect(() => ring.open(sealed, 'connection|globex|conn_1')).toThrow();
    const data = Buffer.from(sealed.data, 'base64');
    data[data.length - 1] = (data[data.length - 1] ?? 0) ^ 1;
    expect(() => ring.open({ ...sealed, data: data.toString('base64') }, 'connection|acme|conn_1')).toThrow();
  });

  it('rotates keys without downtime: the old key still opens, the new one seals, rewrap moves a record to the new key', () => {
    const k1 = key('k1');
    const k2 = key('k2');
    const before = keyRing([k1]).seal('sk_live_abc', 'aad');
    const during = keyRing([k2, k1]);
    expect(during.open(before, 'aad')).toBe('sk_live_abc');
    expect(during.seal('x', 'aad').kid).toBe('k2');
    const moved = during.rewrap(before, 'aad');
    expect(moved.kid).toBe('k2');
    expect(moved.data).toBe(before.data);
    expect(keyRing([k2]).open(moved, 'aad')).toBe('sk_live_abc');
    expect(() => keyRing([k2]).open(before, 'aad')).toThrow(/no longer holds/);
  });

  it('reads CONNECTOR_KEYS, requires it in production and shows only a fingerprint and the last four characters', () => {
    const b64 = randomBytes(32).toString('base64');
    expect(keyRingFromEnv(`k9:${b64}`, true).activeKeyId).toBe('k9');
    expect(() => keyRingFromEnv(undefined, true).seal('sk_live_x', 'aad')).toThrow(/CONNECTOR_KEYS is not set/);
    expect(keyRingFromEnv(undefined, false).activeKeyId).toBe('dev');
    expect(() => keyRingFromEnv('k1:short', false)).toThrow(/32 bytes/);
    const shown = describeSecret('sk_test_1234567890abcd');
    expect(shown.last4).toBe('abcd');
    expect(shown.fingerprint).toMatch(/^sha256:[0-9a-f]{16}$/);
    expect(JSON.stringify(shown)).not.toContain('1234567890');
  });
});

describe('outbound policy per connection', () => {
  const fail = (err: Error) => async () => {
    throw err;
  };

  it('opens the circuit after consecutive transient failures, fails fast while open, closes after a good trial call', async () => {
    const states: OutboundHealth[] = [];
    const out = policyOutbound({ maxRequestsPerSecond: 1000, breakAfter: 3, halfOpenAfterMs: 50, onHealth: (s) => states.push(s) });
    for (let i = 0; i < 3; i++) await expect(out.call('x', fail(new TransientError('UPSTREAM_5XX', '503')))).rejects.toMatchObject({ code: 'UPSTREAM_5XX' });
    expect(out.circuit()).toBe('OPEN');
    let called = false;
    await expect(out.call('x', async () => (called = true))).rejects.toMatchObject({ code: 'CIRCUIT_OPEN' });
    expect(called).toBe(false);
    // The breaker's own clock: wait until it lets a trial call through (bounded).
    const deadline = Date.now() + 5000;
    let result: string | undefined;
    while (!result && Date.now() < deadline) {
      result = await out.call('x', async () => 'ok').catch(() => undefined);
      if (!result) await new Promise((r) => setTimeout(r, 20));
    }
    expect(result).toBe('ok');
    expect(out.circuit()).toBe('CLOSED');
    expect(states).toEqual(['DEGRADED', 'DEGRADED', 'CIRCUIT_OPEN', 'OK']);
  });

  it('honours Retry-After: no call starts before the delay, and 429s do not open the circuit', async () => {
    let t = 1_000_000;
    const out = policyOutbound({ maxRequestsPerSecond: 1000, breakAfter: 1, now: () => t });
    await expect(out.call('x', fail(new TransientError('UPSTREAM_429', '429', 2000)))).rejects.toMatchObject({ code: 'UPSTREAM_429' });
    let calls = 0;
    t += 1500;
    await expect(out.call('x', async () => ++calls)).rejects.toMatchObject({ code: 'UPSTREAM_429', retryAfterMs: 500 });
    expect(calls).toBe(0);
    expect(out.circuit()).toBe('CLOSED');
    t += 600;
    await expect(out.call('x', async () => ++calls)).resolves.toBe(1);
  });

  it('marks AUTH_ERROR on refused credentials without counting them for the breaker', async () => {
    const states: OutboundHealth[] = [];
    const out = policyOutbound({ maxRequestsPerSecond: 1000, breakAfter: 1, onHealth: (s) => states.push(s) });
    await expect(out.call('x', fail(new AuthError('401 invalid api key', 401)))).rejects.toBeInstanceOf(AuthError);
    expect(out.health()).toBe('AUTH_ERROR');
    expect(out.circuit()).toBe('CLOSED');
    await out.call('x', async () => 1);
    expect(states).toEqual(['AUTH_ERROR', 'OK']);
  });

  it('times out a hung call with TIMEOUT and aborts its signal', async () => {
    const out = policyOutbound({ maxRequestsPerSecond: 1000, timeoutMs: 100 });
    let aborted = false;
    const hung = (signal: AbortSignal) => new Promise<never>(() => signal.addEventListener('abort', () => (aborted = true)));
    await expect(out.call('x', hung)).rejects.toMatchObject({ code: 'TIMEOUT' });
    expect(aborted).toBe(true);
  });

  it('spaces call starts so no one-second window holds more than the limit', async () => {
    const out = policyOutbound({ maxRequestsPerSecond: 20 });
    const starts: number[] = [];
    await Promise.all(Array.from({ length: 30 }, () => out.call('x', async () => starts.push(Date.now()))));
    starts.sort((a, b) => a - b);
    for (let i = 0; i < starts.length; i++) {
      const inWindow = starts.filter((s) => s >= (starts[i] ?? 0) && s < (starts[i] ?? 0) + 1000).length;
      expect(inWindow).toBeLessThanOrEqual(20);
    }
  });
});
