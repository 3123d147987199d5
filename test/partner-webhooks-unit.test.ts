import { createHmac } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { retryAfterMs } from '../lib/http/retry-after';
import { redactSecretValues } from '../gateway/audit';
import { checkEndpointUrl, classifyAddress, guardedLookup } from '../subgraphs/sync/partner-webhooks/address-policy';
import { deliveryOutcome } from '../subgraphs/sync/partner-webhooks/outcome';
import { httpSender } from '../subgraphs/sync/partner-webhooks/sender';
import { partnerWebhookSettings } from '../subgraphs/sync/partner-webhooks/settings';
import { newSigningSecret, signedHeaders } from '../subgraphs/sync/partner-webhooks/signing';
import { startWebhookReceiver } from './support/webhook-receiver';

const settings = partnerWebhookSettings({ retryBaseMs: 1000, retryMaxMs: 60_000, maxAttempts: 5 }, false);
const STRICT = { allowLoopbackHttp: false, allowPrivateNetworks: false };
const DEV = { allowLoopbackHttp: true, allowPrivateNetworks: false };

describe('partner webhook signing (Standard Webhooks)', () => {
  it('signs id.timestamp.body with HMAC-SHA256 under the base64 key after whsec_, as the spec and its library say', () => {
    const secret = newSigningSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const at = new Date();
    const body = JSON.stringify({ type: 'invoice.status_changed', data: { state: 'PAID' } });
    const headers = signedHeaders('msg_1', at, body, [secret]);
    // The documented algorithm by hand...
    const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
    const expected = createHmac('sha256', key).update(`msg_1.${Math.floor(at.getTime() / 1000)}.${body}`).digest('base64');
    expect(headers['webhook-signature']).toBe(`v1,${expected}`);
    // ...and the reference library verifies it.
    expect(new Webhook(secret).verify(body, { ...headers })).toEqual(JSON.parse(body));
    expect(() => new Webhook(newSigningSecret()).verify(body, { ...headers })).toThrow();
    expect(() => new Webhook(secret).verify(`${body} `, { ...headers })).toThrow();
  });

  it('carries one signature per secret during a rotation: a receiver with either secret verifies', () => {
    const [fresh, old] = [newSigningSecret(), newSigningSecret()];
    const body = '{"type":"sync_job.state_changed"}';
    const headers = signedHeaders('msg_2', new Date(), body, [fresh, old]);
    expect(headers['webhook-signature'].split(' ')).toHaveLength(2);
    expect(() => new Webhook(fresh).verify(body, { ...headers })).not.toThrow();
    expect(() => new Webhook(old).verify(body, { ...headers })).not.toThrow();
    expect(() => new Webhook(newSigningSecret()).verify(body, { ...headers })).toThrow();
  });

  it('keeps a signing secret out of stored answers while keeping their shape', () => {
    const secret = newSigningSecret();
    const stored = redactSecretValues({ data: { createPartnerWebhookEndpoint: { secret, endpoint: { id: 'whep_1' } } } });
    expect(JSON.stringify(stored)).not.toContain(secret.slice(6, 20));
    expect(stored).toEqual({ data: { createPartnerWebhookEndpoint: { secret: '[REDACTED]', endpoint: { id: 'whep_1' } } } });
  });
});

describe('partner webhook retries', () => {
  const answered = (status: number, retryAfter?: number) => ({ kind: 'answered' as const, status, retryAfterMs: retryAfter });

  it('delivers on any 2xx, retries anything else with exponential backoff and jitter', () => {
    expect(deliveryOutcome(answered(204), 1, 5, settings)).toEqual({ kind: 'delivered' });
    expect(deliveryOutcome(answered(500), 1, 5, settings, () => 0)).toEqual({ kind: 'retry', delayMs: 500, error: 'HTTP 500' });
    expect(deliveryOutcome(answered(500), 1, 5, settings, () => 1)).toEqual({ kind: 'retry', delayMs: 1000, error: 'HTTP 500' });
    expect(deliveryOutcome(answered(500), 3, 5, settings, () => 1)).toMatchObject({ delayMs: 4000 });
    // A redirect is not followed: a failure like any other.
    expect(deliveryOutcome(answered(301), 1, 5, settings)).toMatchObject({ kind: 'retry', error: 'HTTP 301' });
    expect(deliveryOutcome({ kind: 'no-answer', error: 'TIMEOUT' }, 1, 5, settings)).toMatchObject({ kind: 'retry', error: 'TIMEOUT' });
  });

  it('never retries sooner than Retry-After, and no later than the longest delay', () => {
    expect(deliveryOutcome(answered(429, 30_000), 1, 5, settings, () => 1)).toMatchObject({ kind: 'retry', delayMs: 30_000 });
    expect(deliveryOutcome(answered(503, 10 * 3_600_000), 1, 5, settings, () => 1)).toMatchObject({ delayMs: 60_000 });
  });

  it('gives up after the last attempt', () => {
    expect(deliveryOutcome(answered(500), 5, 5, settings)).toEqual({ kind: 'give-up', error: 'HTTP 500 (gave up after 5 attempts)' });
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('2026-12-01T20:00:00Z');
    expect(retryAfterMs('2', now)).toBe(2000);
    expect(retryAfterMs('Tue, 01 Dec 2026 20:00:07 GMT', now)).toBe(7000);
    expect(retryAfterMs('Tue, 01 Dec 2026 19:00:00 GMT', now)).toBe(0);
    expect(retryAfterMs('soon', now)).toBeUndefined();
    expect(retryAfterMs(undefined, now)).toBeUndefined();
  });
});

describe('partner webhook settings', () => {
  it('refuses unknown keys and loopback http in production', () => {
    expect(() => partnerWebhookSettings({ timeoutMS: 5 }, false)).toThrow(/PARTNER_WEBHOOKS/);
    expect(() => partnerWebhookSettings({ allowLoopbackHttp: true }, true)).toThrow(/never production/);
    expect(partnerWebhookSettings({}, true)).toMatchObject({ allowLoopbackHttp: false, allowPrivateNetworks: false, timeoutMs: 10_000 });
  });
});

describe('partner endpoint addresses (SSRF)', () => {
  it('classifies addresses, IPv4-mapped IPv6 included', () => {
    expect(classifyAddress('8.8.8.8')).toBe('public');
    expect(classifyAddress('127.0.0.1')).toBe('loopback');
    expect(classifyAddress('::1')).toBe('loopback');
    expect(classifyAddress('10.1.2.3')).toBe('private');
    expect(classifyAddress('::ffff:192.168.1.1')).toBe('private');
    expect(classifyAddress('fd00::1')).toBe('private');
    expect(classifyAddress('169.254.169.254')).toBe('forbidden');
    expect(classifyAddress('::ffff:169.254.169.254')).toBe('forbidden');
    expect(classifyAddress('0.0.0.0')).toBe('forbidden');
  });

  it('accepts https to public hosts and refuses the rest', () => {
    expect(checkEndpointUrl('https://hooks.partner.example/in#frag', STRICT)).toEqual({ ok: true, url: 'https://hooks.partner.example/in' });
    for (const url of ['http://hooks.partner.example/', 'ftp://x.example/', 'https://user:pw@x.example/', 'not a url', 'https://10.0.0.1/',
      'https://169.254.169.254/latest/meta-data', 'https://[::1]/', 'https://localhost/', 'http://127.0.0.1:9/', 'https://0.0.0.0/']) {
      expect(checkEndpointUrl(url, STRICT)).toMatchObject({ ok: false });
    }
    expect(checkEndpointUrl('https://10.0.0.1/', { ...STRICT, allowPrivateNetworks: true })).toMatchObject({ ok: true });
    expect(checkEndpointUrl('https://169.254.169.254/', { allowLoopbackHttp: true, allowPrivateNetworks: true })).toMatchObject({ ok: false });
  });

  it('allows http only to loopback, and only with the development setting', () => {
    expect(checkEndpointUrl('http://127.0.0.1:8080/hooks', DEV)).toMatchObject({ ok: true });
    expect(checkEndpointUrl('http://localhost:8080/hooks', DEV)).toMatchObject({ ok: true });
    expect(checkEndpointUrl('http://hooks.partner.example/', DEV)).toMatchObject({ ok: false });
    expect(checkEndpointUrl('http://10.0.0.1/', { allowLoopbackHttp: true, allowPrivateNetworks: true })).toMatchObject({ ok: false });
  });

  it('refuses at connect time a name that resolves to a forbidden address', async () => {
    const lookup = guardedLookup(STRICT);
    const err = await new Promise<NodeJS.ErrnoException | null>((resolve) => lookup('localhost', {}, (e) => resolve(e)));
    expect(err?.code).toBe('ESSRF');
    const ok = await new Promise<string | unknown[]>((resolve, reject) => guardedLookup(DEV)('localhost', {}, (e, a) => (e ? reject(e) : resolve(a))));
    expect(String(ok)).toMatch(/127\.0\.0\.1|::1/);
  });

  it('sends nothing to a loopback receiver unless allowed, over real HTTP', async () => {
    const receiver = await startWebhookReceiver();
    const body = '{"type":"x"}';
    const headers = signedHeaders('msg_3', new Date(), body, [newSigningSecret()]);
    const port = new URL(receiver.url).port;
    const strict = httpSender(STRICT, 2000);
    const dev = httpSender(DEV, 2000);
    try {
      expect(await strict.send(`http://localhost:${port}/hooks`, headers, body)).toMatchObject({ kind: 'no-answer', error: expect.stringMatching(/^ADDRESS_REFUSED/) });
      expect(await strict.send(receiver.url, headers, body)).toMatchObject({ kind: 'no-answer', error: expect.stringMatching(/^ADDRESS_REFUSED/) });
      expect(receiver.received).toHaveLength(0);
      expect(await dev.send(`http://localhost:${port}/hooks`, headers, body)).toEqual({ kind: 'answered', status: 200, retryAfterMs: undefined });
      expect(receiver.received).toHaveLength(1);
    } finally {
      await strict.close();
      await dev.close();
      await receiver.close();
    }
  });

  it('bounds an attempt by its timeout', async () => {
    const receiver = await startWebhookReceiver(() => 'hang');
    const sender = httpSender(DEV, 300);
    try {
      expect(await sender.send(receiver.url, signedHeaders('msg_4', new Date(), '{}', [newSigningSecret()]), '{}')).toEqual({ kind: 'no-answer', error: 'TIMEOUT' });
    } finally {
      await sender.close();
      await receiver.close();
    }
  });
});
