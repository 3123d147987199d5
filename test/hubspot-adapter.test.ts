import { createHmac, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AuthError, PermanentError, TransientError } from '../lib/connectors/errors';
import { directOutbound } from '../lib/connectors/outbound';
import { type RemoteChangeEvent, WebhookSignatureError } from '../lib/connectors/remote';
import { HubSpotFake } from '../fakes/hubspot/server';
import { HubSpotCrmRemote } from '../subgraphs/crm/connector/hubspot/adapter';
import type { CrmKind } from '../subgraphs/crm/connector/remote-port';
import { crmRemoteContract } from './contracts/crm-remote.contract';

const TOKEN = 'pat-na1-test';
const SECRET = 'app-client-secret';

async function start(settings: ConstructorParameters<typeof HubSpotCrmRemote>[0]['settings'] = {}) {
  const fake = new HubSpotFake({ tokens: [TOKEN], clientSecret: SECRET });
  const url = await fake.start();
  const remote = new HubSpotCrmRemote({ credentials: { apiKey: TOKEN, webhookSecret: SECRET }, settings: { basePath: url, ...settings }, outbound: directOutbound });
  return { fake, remote };
}

crmRemoteContract('HubSpot (fake over HTTP)', async () => {
  const { fake, remote } = await start();
  return { remote, renameOutOfBand: async (id, name) => fake.edit('companies', id, { name }), close: () => fake.stop() };
});

describe('HubSpot CRM adapter', () => {
  let fake: HubSpotFake;
  let remote: HubSpotCrmRemote;
  beforeEach(async () => {
    ({ fake, remote } = await start());
  });
  afterEach(() => fake.stop());

  it('keeps the canonical id in the unique custom property and sends a private-app bearer token', async () => {
    const canonicalId = randomUUID();
    const [made] = await remote.upsert('account', [{ canonicalId, fields: { name: 'Acme', domain: 'acme.example', lifecycleStage: 'PROSPECT' } }]);
    const stored = fake.record('companies', made!.remoteId)!;
    expect(stored.properties).toMatchObject({ sor_canonical_id: canonicalId, name: 'Acme', domain: 'acme.example', lifecyclestage: 'opportunity' });
    expect(made!.fields.lifecycleStage).toBe('PROSPECT');
    expect(fake.log.every((r) => r.headers.authorization === `Bearer ${TOKEN}`)).toBe(true);
  });

  it('associates contacts with their company and reads the association back', async () => {
    const [company] = await remote.upsert('account', [{ canonicalId: randomUUID(), fields: { name: 'Acme' } }]);
    const [contact] = await remote.upsert('contact', [{
      canonicalId: randomUUID(),
      fields: { firstName: 'Ada', lastName: 'Lovelace', email: 'ada@acme.example', phone: null, title: 'CTO', accountRemoteId: company!.remoteId },
    }]);
    expect(fake.associated('contacts', contact!.remoteId, 'companies')).toEqual([company!.remoteId]);
    expect(contact!.fields).toEqual({ firstName: 'Ada', lastName: 'Lovelace', email: 'ada@acme.example', phone: null, title: 'CTO', accountRemoteId: company!.remoteId });
  });

  it('maps deal stages through the connection settings and amounts in minor units', async () => {
    await fake.stop();
    ({ fake, remote } = await start({ pipeline: 'sales-2', dealStages: { s_new: 'PROSPECTING', s_won: 'CLOSED_WON', s_lost: 'CLOSED_LOST' } }));
    const [company] = await remote.upsert('account', [{ canonicalId: randomUUID(), fields: { name: 'Acme' } }]);
    const [deal] = await remote.upsert('opportunity', [{
      canonicalId: randomUUID(),
      fields: { name: 'Renewal', stage: 'CLOSED_WON', amount: { amountMinor: '1234550', currency: 'EUR' }, closeDate: '2026-12-31', accountRemoteId: company!.remoteId },
    }]);
    expect(fake.record('deals', deal!.remoteId)!.properties).toMatchObject({ dealstage: 's_won', pipeline: 'sales-2', amount: '12345.50', deal_currency_code: 'EUR' });
    expect(deal!.fields).toEqual({ name: 'Renewal', stage: 'CLOSED_WON', amount: { amountMinor: '1234550', currency: 'EUR' }, closeDate: '2026-12-31', accountRemoteId: company!.remoteId });
    fake.edit('deals', deal!.remoteId, { dealstage: 'unmapped_stage' });
    expect((await remote.get('opportunity', [deal!.remoteId]))[0]!.fields.stage).toBeNull();
    await expect(remote.upsert('opportunity', [{ canonicalId: randomUUID(), fields: { name: 'X', stage: 'NEGOTIATION' } }])).rejects.toMatchObject({ code: 'STAGE_NOT_MAPPED' });
  });

  it('writes and reads in batches of 100 (one upsert, one read request per 100 records)', async () => {
    const writes = Array.from({ length: 150 }, (_, i) => ({ canonicalId: randomUUID(), fields: { name: `Company ${i}` } }));
    const made = await remote.upsert('account', writes);
    expect(made).toHaveLength(150);
    expect(fake.count('companies')).toBe(150);
    const paths = fake.log.map((r) => `${r.method} ${r.path}`);
    expect(paths.filter((p) => p === 'POST /crm/v3/objects/companies/batch/upsert')).toHaveLength(2);
    expect(paths.filter((p) => p === 'POST /crm/v3/objects/companies/batch/read')).toHaveLength(2);
  });

  it('searches by last-modified time for incremental reads', async () => {
    await remote.upsert('account', [{ canonicalId: randomUUID(), fields: { name: 'One' } }]);
    fake.log.length = 0;
    await remote.changes('account', null, 10);
    const search = JSON.parse(fake.log.find((r) => r.path.endsWith('/search'))!.body) as { filterGroups: { filters: { propertyName: string; operator: string }[] }[]; sorts: unknown[] };
    expect(search.filterGroups[0]!.filters[0]).toMatchObject({ propertyName: 'hs_lastmodifieddate', operator: 'GTE' });
    expect(search.sorts).toEqual([{ propertyName: 'hs_lastmodifieddate', direction: 'ASCENDING' }]);
  });

  it('does not skip a record edited while the pages are being read', async () => {
    const made = await remote.upsert('account', ['A', 'B', 'C', 'D'].map((n) => ({ canonicalId: randomUUID(), fields: { name: n } })));
    const first = await remote.changes('account', null, 2);
    fake.edit('companies', made[0]!.remoteId, { name: 'A2' });
    const seen = new Set(first.records.map((r) => r.remoteId));
    let cursor = first.cursor;
    for (let i = 0; i < 10; i++) {
      const page = await remote.changes('account', cursor, 2);
      page.records.forEach((r) => seen.add(r.remoteId));
      cursor = page.cursor;
      if (!page.hasMore) break;
    }
    expect([...seen].sort()).toEqual(made.map((r) => r.remoteId).sort());
  });

  it('lists owners', async () => {
    const id = fake.addOwner({ email: 'sam@acme.example', firstName: 'Sam', lastName: 'Seller' });
    expect(await remote.owners()).toEqual([{ remoteId: id, email: 'sam@acme.example', name: 'Sam Seller' }]);
  });

  describe('OAuth (refresh token)', () => {
    const oauth = (refreshToken: string, rotated: string[] = []) => new HubSpotCrmRemote({
      credentials: { apiKey: refreshToken, webhookSecret: 'oauth-client-secret' },
      settings: { basePath: fake.url, auth: 'oauth', oauthClientId: 'client-1' },
      outbound: directOutbound,
      onRefreshTokenRotated: async (next) => {
        rotated.push(next);
      },
    });

    it('gets an access token from the refresh token, reuses it, and refreshes once it has expired', async () => {
      const remote = oauth(fake.installOAuthApp('client-1', 'oauth-client-secret'));
      await remote.upsert('account', [{ canonicalId: randomUUID(), fields: { name: 'Acme' } }]);
      await remote.owners();
      const refreshes = () => fake.log.filter((r) => r.path === '/oauth/v1/token');
      expect(refreshes()).toHaveLength(1);
      expect(refreshes()[0]!.body).toContain('grant_type=refresh_token');
      const bearers = new Set(fake.log.filter((r) => r.path !== '/oauth/v1/token').map((r) => r.headers.authorization));
      expect(bearers.size).toBe(1);
      fake.expireAccessTokens();
      expect(await remote.owners()).toEqual([]);
      expect(refreshes()).toHaveLength(2);
      expect(fake.log.filter((r) => r.status === 401)).toHaveLength(1);
    });

    it('hands a rotated refresh token to the connection and uses it from then on', async () => {
      fake.rotateRefreshTokens = true;
      const rotated: string[] = [];
      const first = fake.installOAuthApp('client-1', 'oauth-client-secret');
      const remote = oauth(first, rotated);
      await remote.owners();
      fake.expireAccessTokens();
      await remote.owners();
      expect(rotated).toHaveLength(2);
      expect(rotated[0]).not.toBe(first);
      const bodies = fake.log.filter((r) => r.path === '/oauth/v1/token').map((r) => new URLSearchParams(r.body).get('refresh_token'));
      expect(bodies).toEqual([first, rotated[0]]);
    });

    it('a refused refresh token -> AuthError', async () => {
      fake.installOAuthApp('client-1', 'oauth-client-secret');
      await expect(oauth('rt-unknown').owners()).rejects.toBeInstanceOf(AuthError);
    });
  });

  describe('errors onto the engine classes', () => {
    const read = () => remote.get('account', ['1']);
    it('5xx -> TransientError', async () => {
      fake.faults.failNext = [502];
      await expect(read()).rejects.toBeInstanceOf(TransientError);
    });
    it('429 -> TransientError waiting out the 10-second window, with the rate-limit headers', async () => {
      fake.rateLimitPer10s = 2;
      await read();
      await read();
      const err = await read().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TransientError);
      expect(err).toMatchObject({ code: 'RATE_LIMITED', retryAfterMs: 10_000 });
      expect(fake.log.at(-1)!.status).toBe(429);
      const raw = await fetch(`${fake.url}/crm/v3/objects/companies/1`, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(raw.status).toBe(429);
      expect(raw.headers.get('x-hubspot-ratelimit-interval-milliseconds')).toBe('10000');
      expect(raw.headers.get('x-hubspot-ratelimit-max')).toBe('2');
      expect(raw.headers.get('x-hubspot-ratelimit-remaining')).toBe('0');
      expect(await raw.json()).toMatchObject({ status: 'error', category: 'RATE_LIMITS', policyName: 'TEN_SECONDLY_ROLLING' });
    });
    it('revoked token -> AuthError', async () => {
      fake.faults.revoked = true;
      const err = await read().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AuthError);
      expect(err).toMatchObject({ code: 'AUTH_ERROR', status: 401 });
    });
    it('checkAccess with a revoked token -> AuthError', async () => {
      expect(await remote.checkAccess()).toEqual({ accountId: '62515' });
      fake.faults.revoked = true;
      await expect(remote.checkAccess()).rejects.toBeInstanceOf(AuthError);
    });
    it('other 4xx -> PermanentError with HubSpot category', async () => {
      fake.faults.failNext = [400];
      const err = await read().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PermanentError);
      expect(err).not.toBeInstanceOf(AuthError);
      expect(err).toMatchObject({ code: 'VALIDATION_ERROR' });
    });
    it('unreachable -> TransientError', async () => {
      await fake.stop();
      await expect(read()).rejects.toBeInstanceOf(TransientError);
      ({ fake, remote } = await start());
    });
  });

  describe('webhooks (signature v3)', () => {
    let receiver: Server;
    let receiverUrl: string;
    let received: { events?: RemoteChangeEvent<CrmKind>[]; error?: unknown }[];
    beforeEach(async () => {
      received = [];
      receiver = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          try {
            const events = remote.webhooks!.verify({ method: req.method!, url: receiverUrl, headers: req.headers as Record<string, string>, rawBody: Buffer.concat(chunks) });
            received.push({ events });
            res.writeHead(204).end();
          } catch (error) {
            received.push({ error });
            res.writeHead(401).end();
          }
        });
      });
      await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
      receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/webhooks/hubspot/conn-1`;
    });
    afterEach(() => new Promise<void>((r) => receiver.close(() => r())));

    it('accepts HubSpot-signed deliveries and turns them into change notices', async () => {
      const id = fake.create('companies', { name: 'Made in HubSpot' });
      fake.edit('companies', id, { name: 'Renamed in HubSpot' });
      expect(await fake.deliverWebhooks(receiverUrl)).toEqual([204]);
      const events = received[0]!.events!;
      expect(events.map((e) => [e.kind, e.remoteId, e.change])).toEqual([['account', id, 'created'], ['account', id, 'updated']]);
      expect(new Set(events.map((e) => e.eventId)).size).toBe(2);
    });

    it('matches an HMAC computed independently of the SDK', () => {
      const body = JSON.stringify([{ eventId: 1, subscriptionType: 'deal.creation', objectId: 7, occurredAt: Date.now() }]);
      const timestamp = Date.now();
      const signature = createHmac('sha256', SECRET).update(`POST${receiverUrl}${body}${timestamp}`).digest('base64');
      const events = remote.webhooks!.verify({ method: 'POST', url: receiverUrl, headers: { 'x-hubspot-signature-v3': signature, 'x-hubspot-request-timestamp': String(timestamp) }, rawBody: Buffer.from(body) });
      expect(events).toMatchObject([{ kind: 'opportunity', remoteId: '7', change: 'created' }]);
    });

    it('rejects a bad signature, a tampered body and a stale or future timestamp', async () => {
      const body = JSON.stringify([{ eventId: 1, subscriptionType: 'company.creation', objectId: 1, occurredAt: Date.now() }]);
      const verify = (headers: Record<string, string>, raw = body) => () => remote.webhooks!.verify({ method: 'POST', url: receiverUrl, headers, rawBody: Buffer.from(raw) });
      const good = fake.sign('POST', receiverUrl, body, Date.now());
      expect(verify(good)).not.toThrow();
      expect(verify(good, body.replace('"objectId":1', '"objectId":2'))).toThrow(WebhookSignatureError);
      expect(verify({ ...good, 'x-hubspot-signature-v3': Buffer.from('nope').toString('base64') })).toThrow(WebhookSignatureError);
      expect(verify({})).toThrow(WebhookSignatureError);
      expect(verify(fake.sign('POST', receiverUrl, body, Date.now() - 6 * 60_000))).toThrow(/5-minute/);
      expect(verify(fake.sign('POST', receiverUrl, body, Date.now() + 6 * 60_000))).toThrow(/5-minute/);
      // Signed for another URL (a replay against another connection's endpoint).
      expect(verify(fake.sign('POST', receiverUrl.replace('conn-1', 'conn-2'), body, Date.now()))).toThrow(WebhookSignatureError);
      // Over HTTP: the receiver answers 401 to a delivery signed with another secret.
      const res = await fetch(receiverUrl, { method: 'POST', headers: new HubSpotFake({ clientSecret: 'other' }).sign('POST', receiverUrl, body, Date.now()), body });
      expect(res.status).toBe(401);
    });
  });
});
