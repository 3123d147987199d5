import { HubSpotFake, type HubSpotWebhookEvent } from '../fakes/hubspot/server';
import { createLogger } from '../lib/logger';
import { connectionsFromConfig } from '../subgraphs/registry';
import type { ConnectionRuntime } from '../subgraphs/sync/connections/runtime';
import { pollConnection } from '../subgraphs/sync/remote/polling';
import { type TestStack, startTestStack } from './support/stack';
import { asAdmin } from './support/stripe-connection';
import { waitForSync } from './support/wait';

interface JobRow { id: string; kind: string; state: string; result: string | null; last_error_code: string | null }
interface ContactView { id: string; firstName: string; lastName: string; email: string; account: { id: string; name: string } }
interface OpportunityView { id: string; name: string; stage: string; amount: { amountMinor: string; currency: string }; closeDate: string | null; account: { id: string } }

const CLIENT_SECRET = 'hubspot-app-client-secret-inbound';

/**
 * HubSpot as acme's CRM, inbound: contacts and deals changed in HubSpot become canonical Contacts (under the account of
 * their company) and Opportunities (stages through the connection's dealStages), by webhook or by polling, deduplicated
 * and whatever the order of the events; and an OAuth install whose access token is renewed on expiry or on a 401, with
 * the rotated refresh token sealed back into the connection once, however many processes renew at the same time.
 * Globex stays on the reference stores.
 */
describe('connectors: HubSpot contacts, deals and OAuth for acme; globex on the reference stores', () => {
  let stack: TestStack;
  let hubspot: HubSpotFake;
  let crmConnection: string;

  const admin = <D>(query: string, variables?: Record<string, unknown>, tenant = 'acme') => asAdmin<D>(stack, query, variables, tenant);
  const createConnection = async (input: Record<string, unknown>, tenant = 'acme') => {
    const res = await admin<{ createConnection: { id: string } }>('mutation($input: CreateConnectionInput!) { createConnection(input: $input) { id } }', { input }, tenant);
    expect(res.body.errors).toBeUndefined();
    return res.body.data!.createConnection.id;
  };
  const disable = async (id: string, tenant = 'acme') => {
    const res = await admin('mutation($id: ID!) { disableConnection(id: $id) { id } }', { id }, tenant);
    expect(res.body.errors).toBeUndefined();
  };
  const webhookUrl = (connectionId: string) => stack.subgraphs.sync.url.replace(/\/graphql$/, `/webhooks/hubspot/${connectionId}`);
  const jobs = (tenant: string, where: string, params: unknown[] = []) =>
    stack.db.query<JobRow>(`SELECT id, kind, state, result, last_error_code FROM sync.jobs WHERE tenant_id = $1 AND ${where} ORDER BY created_at`, [tenant, ...params]);
  const settled = async (tenant: string, where = 'true', params: unknown[] = [], timeoutMs = 30_000) =>
    waitForSync(stack, tenant, async () => {
      const open = await jobs(tenant, `state IN ('PENDING', 'RUNNING', 'FAILED')`);
      return open.length === 0 ? jobs(tenant, where, params) : null;
    }, timeoutMs);
  /** Posts events signed as HubSpot would (a batch), to `connectionId`'s webhook URL. */
  const post = async (connectionId: string, events: readonly HubSpotWebhookEvent[]) => {
    const url = webhookUrl(connectionId);
    const body = JSON.stringify(events);
    const res = await fetch(url, { method: 'POST', headers: hubspot.sign('POST', url, body, Date.now()), body });
    return { status: res.status, body: (await res.json()) as { received: boolean; duplicate: boolean } };
  };
  /** Takes the events HubSpot has queued so far (delivered by the test, in the order it chooses). */
  const takeEvents = () => hubspot.pendingEvents.splice(0, hubspot.pendingEvents.length);
  const contactsOf = (remoteId: string) => stack.db.query<{ id: string; account_id: string; last_name: string }>(
    `SELECT c.id, c.account_id, c.last_name FROM crm.contacts c JOIN sync.remote_links l ON l.canonical_id = c.id AND l.entity_type = 'Contact'
     WHERE l.connection_id = $1 AND l.remote_id = $2`, [crmConnection, remoteId]);
  const accountOfCompany = async (remoteId: string) =>
    (await stack.db.query<{ canonical_id: string }>(`SELECT canonical_id FROM sync.remote_links WHERE connection_id = $1 AND entity_type = 'Account' AND remote_id = $2`, [crmConnection, remoteId]))[0]?.canonical_id;
  const contact = async (id: string) => (await stack.gql<{ contact: ContactView }>('query($id: ID!) { contact(id: $id) { id firstName lastName email account { id name } } }', { id })).body.data?.contact;
  const opportunity = async (id: string) => (await stack.gql<{ opportunity: OpportunityView }>(
    'query($id: ID!) { opportunity(id: $id) { id name stage amount { amountMinor currency } closeDate account { id } } }', { id })).body.data?.opportunity;

  beforeAll(async () => {
    hubspot = new HubSpotFake({ tokens: ['pat-na1-acme-inbound'], clientSecret: CLIENT_SECRET });
    await hubspot.start();
    stack = await startTestStack({ accounts: 6, env: { SYNC_RETRY_BASE_MS: '200', SYNC_POLL_INTERVAL_SECONDS: '0', RECONCILE_INTERVAL_SECONDS: '0' } });
    crmConnection = await createConnection({
      system: 'CRM', adapter: 'hubspot', settings: JSON.stringify({ apiBase: hubspot.url, dealStages: { s_new: 'PROSPECTING', s_qualified: 'QUALIFICATION', s_won: 'CLOSED_WON', s_lost: 'CLOSED_LOST' } }),
      credentials: { apiKey: 'pat-na1-acme-inbound', webhookSecret: CLIENT_SECRET },
    });
  });
  afterAll(async () => {
    await stack?.stop();
    await hubspot?.stop();
  });

  it('a contact and a deal created in HubSpot arrive by webhook, in any order, as one Contact and one Opportunity under the account of their company', async () => {
    const globexContacts = await stack.db.query(`SELECT id, last_name, account_id FROM crm.contacts WHERE tenant_id = 'globex' ORDER BY id`);
    const company = hubspot.create('companies', { name: 'Contacts & Deals GmbH', domain: 'cd.example' });
    const person = hubspot.create('contacts', { firstname: 'Ada', lastname: 'Lovelace', email: 'ada@cd.example', jobtitle: 'CTO' });
    const deal = hubspot.create('deals', { dealname: 'Analytical Engine', dealstage: 's_qualified', pipeline: 'default', amount: '1500.25', deal_currency_code: 'EUR', closedate: '2027-01-31T00:00:00.000Z' });
    hubspot.associate('contacts', person, 'companies', company);
    hubspot.associate('deals', deal, 'companies', company);
    // Newest first: the association changes and the contact and deal reach us before the company's own creation.
    const events = takeEvents().reverse();
    expect((await post(crmConnection, events)).status).toBe(200);
    await settled('acme');

    const accountId = await accountOfCompany(company);
    expect(accountId).toBeDefined();
    const [mirrored] = await contactsOf(person);
    expect(await contact(mirrored!.id)).toEqual({ id: mirrored!.id, firstName: 'Ada', lastName: 'Lovelace', email: 'ada@cd.example', account: { id: accountId, name: 'Contacts & Deals GmbH' } });
    const [opp] = await stack.db.query<{ canonical_id: string }>(`SELECT canonical_id FROM sync.remote_links WHERE connection_id = $1 AND entity_type = 'Opportunity' AND remote_id = $2`, [crmConnection, deal]);
    expect(await opportunity(opp!.canonical_id)).toEqual({
      id: opp!.canonical_id, name: 'Analytical Engine', stage: 'QUALIFICATION', amount: { amountMinor: '150025', currency: 'EUR' }, closeDate: '2027-01-31', account: { id: accountId },
    });
    // Our ids went back to HubSpot (its unique property), so later upserts of ours update these records.
    expect(hubspot.record('contacts', person)?.properties['sor_canonical_id']).toBe(mirrored!.id);
    expect(hubspot.record('deals', deal)?.properties['sor_canonical_id']).toBe(opp!.canonical_id);
    // Each record once, although several events named each of them.
    expect(await stack.db.query(`SELECT 1 FROM crm.accounts WHERE tenant_id = 'acme' AND name = 'Contacts & Deals GmbH'`)).toHaveLength(1);
    expect(await stack.db.query(`SELECT 1 FROM crm.contacts WHERE tenant_id = 'acme' AND email = 'ada@cd.example'`)).toHaveLength(1);
    expect(await stack.db.query(`SELECT 1 FROM crm.opportunities WHERE tenant_id = 'acme' AND name = 'Analytical Engine'`)).toHaveLength(1);
    // The same delivery again (HubSpot retries): acknowledged as a duplicate, no job.
    const jobsBefore = (await jobs('acme', `kind = 'REMOTE_CHANGE'`)).length;
    expect((await post(crmConnection, events)).body).toEqual({ received: true, duplicate: true });
    expect(await jobs('acme', `kind = 'REMOTE_CHANGE'`)).toHaveLength(jobsBefore);
    // Globex's CRM did not move.
    expect(await stack.db.query(`SELECT id, last_name, account_id FROM crm.contacts WHERE tenant_id = 'globex' ORDER BY id`)).toEqual(globexContacts);
  });

  it('edits delivered out of order end at HubSpot\'s latest state; a contact moved to another company moves to its account; a deal follows its stage', async () => {
    await settled('acme');
    const [company, person, deal] = [hubspot.create('companies', { name: 'Order Co' }), hubspot.create('contacts', { firstname: 'Grace', lastname: 'Hopper', email: 'grace@order.example' }), hubspot.create('deals', { dealname: 'Compiler', dealstage: 's_new', amount: '10' })];
    hubspot.associate('contacts', person, 'companies', company);
    hubspot.associate('deals', deal, 'companies', company);
    await post(crmConnection, takeEvents());
    await settled('acme');
    const [before] = await contactsOf(person);

    // Two edits, the newer event first: each job re-reads HubSpot, so the last applied state is the latest one.
    hubspot.edit('contacts', person, { lastname: 'Hopper-Murray' });
    hubspot.edit('contacts', person, { lastname: 'Murray Hopper' });
    await post(crmConnection, takeEvents().reverse());
    await settled('acme');
    expect((await contactsOf(person))[0]?.last_name).toBe('Murray Hopper');

    // Moved to a company we have never heard of: only the association's event comes; the company is read on the way.
    const other = hubspot.create('companies', { name: 'New Home Inc' });
    takeEvents();
    hubspot.associate('contacts', person, 'companies', other);
    const moved = takeEvents();
    expect(moved.map((e) => e.subscriptionType)).toEqual(['contact.associationChange']);
    await post(crmConnection, moved);
    await settled('acme');
    const [after] = await contactsOf(person);
    expect(after?.id).toBe(before?.id);
    expect((await contact(after!.id))?.account).toEqual({ id: await accountOfCompany(other), name: 'New Home Inc' });

    // The deal is won in HubSpot (stage s_won -> CLOSED_WON through this connection's dealStages).
    hubspot.edit('deals', deal, { dealstage: 's_won', amount: '12.5' });
    await post(crmConnection, takeEvents());
    await settled('acme');
    const [link] = await stack.db.query<{ canonical_id: string }>(`SELECT canonical_id FROM sync.remote_links WHERE connection_id = $1 AND entity_type = 'Opportunity' AND remote_id = $2`, [crmConnection, deal]);
    expect(await opportunity(link!.canonical_id)).toMatchObject({ stage: 'CLOSED_WON', amount: { amountMinor: '1250', currency: 'USD' } });
  });

  it('a deal in a stage the connection does not map, or without a company, is not mirrored, and says why', async () => {
    await settled('acme');
    const company = hubspot.create('companies', { name: 'Unmapped Stage Ltd' });
    const odd = hubspot.create('deals', { dealname: 'Odd Pipeline Deal', dealstage: 'appointmentscheduled', amount: '5' });
    hubspot.associate('deals', odd, 'companies', company);
    const orphan = hubspot.create('contacts', { firstname: 'No', lastname: 'Company', email: 'orphan@example.com' });
    await post(crmConnection, takeEvents());
    const done = await settled('acme', `kind = 'REMOTE_CHANGE' AND entity_id = ANY($2::text[])`, [[odd, orphan]]);
    expect(done.every((j) => j.state === 'SUCCEEDED')).toBe(true);
    expect(done.some((j) => j.result?.includes("stage the connection's dealStages do not map"))).toBe(true);
    expect(done.some((j) => j.result?.includes('has no company'))).toBe(true);
    expect(await stack.db.query(`SELECT 1 FROM crm.opportunities WHERE tenant_id = 'acme' AND name = 'Odd Pipeline Deal'`)).toEqual([]);
    expect(await stack.db.query(`SELECT 1 FROM crm.contacts WHERE tenant_id = 'acme' AND email = 'orphan@example.com'`)).toEqual([]);
  });

  it('Contact.remoteData and Opportunity.remoteData are HubSpot\'s records, for admins only', async () => {
    await settled('acme');
    const [c] = await stack.db.query<{ canonical_id: string; remote_id: string }>(`SELECT canonical_id, remote_id FROM sync.remote_links WHERE connection_id = $1 AND entity_type = 'Contact' ORDER BY canonical_id LIMIT 1`, [crmConnection]);
    const [o] = await stack.db.query<{ canonical_id: string; remote_id: string }>(`SELECT canonical_id, remote_id FROM sync.remote_links WHERE connection_id = $1 AND entity_type = 'Opportunity' ORDER BY canonical_id LIMIT 1`, [crmConnection]);
    const query = 'query($c: ID!, $o: ID!) { contact(id: $c) { id remoteData } opportunity(id: $o) { id remoteData } }';
    const plain = await stack.gql<{ contact: { remoteData: unknown } | null; opportunity: { remoteData: unknown } | null }>(query, { c: c!.canonical_id, o: o!.canonical_id });
    expect(plain.body.errors?.map((e) => [e.extensions?.['code'], e.path?.join('.')]).sort()).toEqual([['FORBIDDEN', 'contact.remoteData'], ['FORBIDDEN', 'opportunity.remoteData']]);
    expect(JSON.stringify(plain.body.data)).not.toContain('sor_canonical_id');
    const asAdmin = await admin<{ contact: { remoteData: { id: string; properties: Record<string, string> } }; opportunity: { remoteData: { id: string; properties: Record<string, string> } } }>(query, { c: c!.canonical_id, o: o!.canonical_id });
    expect(asAdmin.body.errors).toBeUndefined();
    expect(asAdmin.body.data?.contact.remoteData).toMatchObject({ id: c!.remote_id, properties: { sor_canonical_id: c!.canonical_id } });
    expect(asAdmin.body.data?.opportunity.remoteData).toMatchObject({ id: o!.remote_id, properties: { sor_canonical_id: o!.canonical_id } });
    // A reference-store contact has no vendor record.
    const [globex] = await stack.db.query<{ id: string; account_id: string }>(`SELECT id, account_id FROM crm.contacts WHERE tenant_id = 'globex' LIMIT 1`);
    const [globexOpp] = await stack.db.query<{ id: string }>(`SELECT id FROM crm.opportunities WHERE tenant_id = 'globex' LIMIT 1`);
    const reference = await admin<{ contact: { remoteData: unknown }; opportunity: { remoteData: unknown } }>(query, { c: globex!.id, o: globexOpp!.id }, 'globex');
    expect(reference.body.data).toEqual({ contact: { id: globex!.id, remoteData: null }, opportunity: { id: globexOpp!.id, remoteData: null } });
  });

  it('without webhooks, contacts and deals are polled like companies; polling again changes nothing', async () => {
    const portal = new HubSpotFake({ tokens: ['pat-na1-globex-inbound'] });
    await portal.start();
    const id = await createConnection({ system: 'CRM', adapter: 'hubspot', settings: JSON.stringify({ apiBase: portal.url }), credentials: { apiKey: 'pat-na1-globex-inbound' } }, 'globex');
    try {
      const runtime: ConnectionRuntime = connectionsFromConfig(stack.db, stack.config, createLogger('silent', 'test'));
      const connection = (await runtime.store.byId(id))!;
      const company = portal.create('companies', { name: 'Polled Contacts Co' });
      const person = portal.create('contacts', { firstname: 'Polly', lastname: 'Polled', email: 'polly@polled.example' });
      const deal = portal.create('deals', { dealname: 'Polled Deal', dealstage: 'closedwon', amount: '99' });
      portal.associate('contacts', person, 'companies', company);
      portal.associate('deals', deal, 'companies', company);
      const first = await pollConnection(stack.db, runtime, connection);
      expect(first.map((o) => [o.kind, o.enqueued > 0])).toEqual([['account', true], ['contact', true], ['opportunity', true]]);
      await settled('globex');
      const [account] = await stack.db.query<{ id: string }>(`SELECT id FROM crm.accounts WHERE tenant_id = 'globex' AND name = 'Polled Contacts Co'`);
      const [polled] = await stack.db.query<{ account_id: string }>(`SELECT account_id FROM crm.contacts WHERE tenant_id = 'globex' AND email = 'polly@polled.example'`);
      expect(polled?.account_id).toBe(account?.id);
      const [won] = await stack.db.query<{ stage: string; amount_minor: string }>(`SELECT stage, amount_minor::text FROM crm.opportunities WHERE tenant_id = 'globex' AND name = 'Polled Deal'`);
      expect(won).toEqual({ stage: 'CLOSED_WON', amount_minor: '9900' });
      // The claims changed the records at HubSpot: those versions are read once more, then nothing.
      await pollConnection(stack.db, runtime, connection);
      await settled('globex');
      const again = await pollConnection(stack.db, runtime, connection);
      expect(again.map((o) => o.enqueued)).toEqual([0, 0, 0]);
      expect(await stack.db.query(`SELECT 1 FROM crm.contacts WHERE tenant_id = 'globex' AND email = 'polly@polled.example'`)).toHaveLength(1);
    } finally {
      await disable(id, 'globex');
      await portal.stop();
    }
  });

  describe('OAuth install', () => {
    const CLIENT_ID = 'acme-oauth-app';
    let oauthConnection: string;
    let firstRefreshToken: string;
    const tokenCalls = () => hubspot.log.filter((r) => r.path === '/oauth/v1/token');
    const stored = async () => {
      const runtime = connectionsFromConfig(stack.db, stack.config, createLogger('silent', 'test'));
      return (await runtime.store.credentialsOf((await runtime.store.byId(oauthConnection))!))!;
    };
    const testConnection = async () => {
      const res = await admin<{ testConnection: { ok: boolean; errorCode: string | null; connection: { credentials: { last4: string; rotatedAt: string | null } } } }>(
        'mutation($id: ID!) { testConnection(id: $id) { ok errorCode connection { credentials { last4 rotatedAt } } } }', { id: oauthConnection });
      expect(res.body.errors).toBeUndefined();
      return res.body.data!.testConnection;
    };

    beforeAll(async () => {
      await settled('acme');
      // HubSpot rotates nothing itself; the fake does, so a lost rotation would show as a dead refresh token.
      hubspot.rotateRefreshTokens = true;
      firstRefreshToken = hubspot.installOAuthApp(CLIENT_ID, CLIENT_SECRET);
      await disable(crmConnection);
      oauthConnection = await createConnection({
        system: 'CRM', adapter: 'hubspot', settings: JSON.stringify({ apiBase: hubspot.url, auth: 'oauth', oauthClientId: CLIENT_ID }),
        credentials: { apiKey: firstRefreshToken, webhookSecret: CLIENT_SECRET },
      });
    });

    it('the first call gets an access token; the rotated refresh token is sealed into the connection, and the old one is dead', async () => {
      const calls = tokenCalls().length;
      const result = await testConnection();
      expect(result.ok).toBe(true);
      expect(tokenCalls()).toHaveLength(calls + 1);
      const credentials = await stored();
      expect(credentials.apiKey).not.toBe(firstRefreshToken);
      expect(hubspot.refreshTokenValid(credentials.apiKey)).toBe(true);
      expect(hubspot.refreshTokenValid(firstRefreshToken)).toBe(false);
      expect(result.connection.credentials).toMatchObject({ last4: credentials.apiKey.slice(-4) });
      expect(result.connection.credentials.rotatedAt).not.toBeNull();
      // Sealed: neither token is in the row in clear.
      const [row] = await stack.db.query<{ raw: string }>('SELECT credentials::text AS raw FROM sync.connections WHERE id = $1', [oauthConnection]);
      expect(row!.raw).not.toContain(credentials.apiKey);
      expect(row!.raw).not.toContain(credentials.accessToken!.token);
      // The access token is reused while it lives.
      await testConnection();
      expect(tokenCalls()).toHaveLength(calls + 1);
    });

    it('renews an access token about to expire before using it, and one HubSpot refuses (401) once, storing each rotation', async () => {
      // HubSpot stops taking the current token before its time: the call is refused once (401), renews, and retries.
      hubspot.accessTokenTtlS = 30;
      hubspot.expireAccessTokens();
      let calls = tokenCalls().length;
      let refusedBefore = hubspot.log.filter((r) => r.status === 401).length;
      expect((await testConnection()).ok).toBe(true);
      expect(tokenCalls()).toHaveLength(calls + 1);
      expect(hubspot.log.filter((r) => r.status === 401)).toHaveLength(refusedBefore + 1);
      // The token it got lives 30 s, inside the one-minute margin: the next call renews first, with no 401.
      calls = tokenCalls().length;
      refusedBefore = hubspot.log.filter((r) => r.status === 401).length;
      hubspot.accessTokenTtlS = 1800;
      expect((await testConnection()).ok).toBe(true);
      expect(tokenCalls()).toHaveLength(calls + 1);
      expect(hubspot.log.filter((r) => r.status === 401)).toHaveLength(refusedBefore);
      expect(hubspot.refreshTokenValid((await stored()).apiKey)).toBe(true);
    });

    it('three processes renewing at once make one exchange, and the connection keeps the one live refresh token', async () => {
      const processes = [
        connectionsFromConfig(stack.db, stack.config, createLogger('silent', 'test')),
        connectionsFromConfig(stack.db, stack.config, createLogger('silent', 'test')),
        connectionsFromConfig(stack.db, stack.config, createLogger('silent', 'test')),
      ];
      const connection = (await processes[0]!.store.byId(oauthConnection))!;
      // Each process first picks up the stored access token, which HubSpot then stops taking.
      await Promise.all(processes.map(async (p) => expect((await p.test(connection)).ok).toBe(true)));
      hubspot.expireAccessTokens();
      const calls = tokenCalls().length;
      const results = await Promise.all(processes.map((p) => p.test(connection)));
      expect(results.map((r) => [r.ok, r.errorCode])).toEqual([[true, null], [true, null], [true, null]]);
      expect(tokenCalls()).toHaveLength(calls + 1);
      const credentials = await stored();
      expect(hubspot.refreshTokenValid(credentials.apiKey)).toBe(true);
      // And the sync flows run on it: a company created in HubSpot arrives by webhook through the OAuth connection.
      const company = hubspot.create('companies', { name: 'OAuth Arrivals BV' });
      await post(oauthConnection, takeEvents());
      await settled('acme');
      const [linked] = await stack.db.query<{ canonical_id: string }>(`SELECT canonical_id FROM sync.remote_links WHERE connection_id = $1 AND entity_type = 'Account' AND remote_id = $2`, [oauthConnection, company]);
      expect(hubspot.record('companies', company)?.properties['sor_canonical_id']).toBe(linked?.canonical_id);
    });
  });
});
