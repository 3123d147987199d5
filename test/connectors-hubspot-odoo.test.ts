import { HubSpotFake } from '../fakes/hubspot/server';
import { OdooFake } from '../fakes/odoo/server';
import { type StripeFake, startStripeFake } from '../fakes/stripe/server';
import { createLogger } from '../lib/logger';
import { connectionsFromConfig } from '../subgraphs/registry';
import type { ConnectionRuntime } from '../subgraphs/sync/connections/runtime';
import { pollConnection } from '../subgraphs/sync/remote/polling';
import { ALL_SCOPES, type TestStack, startTestStack } from './support/stack';
import { waitForSync } from './support/wait';
import { collect, wsClient } from './support/ws';

interface JobRow { id: string; kind: string; state: string; target_system: string | null; result: string | null; last_error_code: string | null }

const CLIENT_SECRET = 'hubspot-app-client-secret-acme';

/**
 * Connectors II end to end: acme's CRM on HubSpot, ERP on Odoo and billing on Stripe (three fakes over HTTP), globex on the reference
 * stores, in one deployment (gateway, subgraphs, in-process worker, Postgres, Redis). Changes made through our API
 * reach the vendors as idempotent jobs; HubSpot's webhooks and Odoo's polled changes come back through the ledger.
 */
describe('connectors: acme on HubSpot + Odoo + Stripe, globex on the reference stores', () => {
  let stack: TestStack;
  let hubspot: HubSpotFake;
  let odoo: OdooFake;
  let stripe: StripeFake;
  let stripeAccount: { accountId: string; secretKey: string };
  let crmConnection: string;
  let erpConnection: string;

  const admin = <D>(query: string, variables?: Record<string, unknown>, tenant = 'acme') =>
    stack.token({ tenant, scopes: [...ALL_SCOPES, 'admin'] }).then((token) => stack.gql<D>(query, variables, { token }));
  const createConnection = async (input: Record<string, unknown>, tenant = 'acme') => {
    const res = await admin<{ createConnection: { id: string } }>('mutation($input: CreateConnectionInput!) { createConnection(input: $input) { id } }', { input }, tenant);
    expect(res.body.errors).toBeUndefined();
    return res.body.data!.createConnection.id;
  };
  const webhookUrl = (connectionId: string) => stack.subgraphs.sync.url.replace(/\/graphql$/, `/webhooks/hubspot/${connectionId}`);
  const jobs = (tenant: string, where: string, params: unknown[] = []) =>
    stack.db.query<JobRow>(`SELECT id, kind, state, target_system, result, last_error_code FROM sync.jobs WHERE tenant_id = $1 AND ${where} ORDER BY created_at`, [tenant, ...params]);
  /** Waits until no job of the tenant is pending or running, then returns those matching. */
  const settled = async (tenant: string, where = 'true', params: unknown[] = [], timeoutMs = 20_000) => {
    let open: JobRow[] = [];
    try {
      return await waitForSync(stack, tenant, async () => {
        open = await jobs(tenant, `state IN ('PENDING', 'RUNNING', 'FAILED')`);
        return open.length === 0 ? jobs(tenant, where, params) : null;
      }, timeoutMs);
    } catch (e) {
      // Say which jobs never settled (the first few), not only that some did not.
      const shown = open.slice(0, 5).map((j) => `${j.kind} ${j.state}${j.last_error_code ? ` ${j.last_error_code}` : ''}${j.result ? `: ${j.result}` : ''}`);
      throw new Error(`${tenant}: ${open.length} job(s) still open after ${timeoutMs} ms: ${shown.join('; ')}`, { cause: e });
    }
  };
  const partners = (ref: string) => odoo.rows('res.partner').filter((p) => p['ref'] === ref);
  const companies = (canonicalId: string) =>
    [...Array(hubspot.count('companies') + 2000).keys()].map((i) => String(1000 + i)).filter((id) => hubspot.record('companies', id)?.properties['sor_canonical_id'] === canonicalId);
  const someAccount = async (tenant: string, offset = 0) => {
    const [row] = await stack.db.query<{ id: string; name: string }>('SELECT id, name FROM crm.accounts WHERE tenant_id = $1 ORDER BY id OFFSET $2 LIMIT 1', [tenant, offset]);
    if (!row) throw new Error('no account');
    return row;
  };
  const rename = async (tenant: string, id: string, name: string) => {
    const res = await stack.gql('mutation($id: ID!, $name: String!) { updateAccount(id: $id, input: { name: $name }) { id name } }', { id, name }, { tenant });
    expect(res.body.errors).toBeUndefined();
  };

  /** Quote-to-cash for an acme account through the API; returns the ERP invoice it raised and its Odoo move. */
  const quoteToCash = async (account: { id: string }) => {
    const [customer] = await stack.db.query<{ currency: string }>('SELECT currency FROM erp.customers WHERE tenant_id = $1 AND id = $2', [`acme`, account.id]);
    const token = await stack.token({ tenant: 'acme' });
    const credit = await stack.gql('mutation($a: ID!, $c: String!) { setCreditLimit(input: { accountId: $a, creditLimit: { amountMinor: "100000000000", currency: $c }, creditStatus: OK }) { creditStatus } }', { a: account.id, c: customer?.currency }, { token });
    expect(credit.body.errors).toBeUndefined();
    const opp = await stack.gql<{ createOpportunity: { id: string } }>(
      'mutation($a: ID!, $c: String!) { createOpportunity(input: { accountId: $a, name: "Odoo deal", planCode: "growth", amount: { amountMinor: "4900", currency: $c } }) { id } }',
      { a: account.id, c: customer?.currency }, { token },
    );
    expect(opp.body.errors).toBeUndefined();
    const won = await stack.gql('mutation($id: ID!) { closeOpportunityWon(opportunityId: $id) { id } }', { id: opp.body.data?.createOpportunity.id }, { token });
    expect(won.body.errors).toBeUndefined();
    const [q2c] = await settled('acme', `kind = 'QUOTE_TO_CASH' AND entity_id = $2`, [opp.body.data?.createOpportunity.id]);
    expect(q2c?.state).toBe('SUCCEEDED');
    // The invoice quote-to-cash raised (the seed gave the account others): the one linked to an Odoo move.
    const raised = await stack.db.query<{ id: string; status: string }>(
      `SELECT i.id, i.status FROM erp.invoices i JOIN sync.remote_links l ON l.canonical_id = i.id AND l.entity_type = 'Invoice' AND l.connection_id = $2
       WHERE i.tenant_id = 'acme' AND i.account_id = $1`, [account.id, erpConnection]);
    expect(raised).toHaveLength(1);
    const invoice = raised[0];
    expect(invoice?.status).toBe('POSTED');
    const moves = odoo.rows('account.move').filter((m) => m['ref'] === invoice!.id);
    expect(moves.map((m) => m['state'])).toEqual(['posted']);
    expect(partners(account.id)).toHaveLength(1);

    return { account, invoice: invoice!, moves };
  };

  beforeAll(async () => {
    hubspot = new HubSpotFake({ tokens: ['pat-na1-acme'], clientSecret: CLIENT_SECRET });
    odoo = new OdooFake({ db: 'acme', login: 'api@acme.example', apiKey: 'odoo-key-acme' });
    await Promise.all([hubspot.start(), odoo.start()]);
    stripe = await startStripeFake();
    stripeAccount = stripe.addAccount();
    stack = await startTestStack({ accounts: 12, env: { SYNC_RETRY_BASE_MS: '200', SYNC_POLL_INTERVAL_SECONDS: '0' } });
    crmConnection = await createConnection({
      system: 'CRM', adapter: 'hubspot', settings: JSON.stringify({ apiBase: hubspot.url }), credentials: { apiKey: 'pat-na1-acme', webhookSecret: CLIENT_SECRET },
    });
    erpConnection = await createConnection({
      system: 'ERP', adapter: 'odoo', settings: JSON.stringify({ apiBase: odoo.url, db: 'acme', login: 'api@acme.example' }), credentials: { apiKey: 'odoo-key-acme' },
    });
    // Billing on Stripe: acme runs all three systems of record on vendors.
    await createConnection({ system: 'BILLING', adapter: 'stripe', settings: JSON.stringify({ apiBase: stripe.url }), credentials: { apiKey: stripeAccount.secretKey } });
  });
  afterAll(async () => {
    await stack?.stop();
    await Promise.all([hubspot?.stop(), odoo?.stop(), stripe?.close()]);
  });

  it('an account renamed through our API reaches HubSpot and Odoo once each; a retry after a lost link makes no second record; globex reaches no vendor', async () => {
    const account = await someAccount('acme');
    await rename('acme', account.id, 'Acme Renamed GmbH');
    const done = await settled('acme', `kind = 'ACCOUNT_UPSERT' AND entity_id = $2`, [account.id]);
    expect(done.map((j) => [j.target_system, j.state]).sort()).toEqual([['BILLING', 'SUCCEEDED'], ['CRM', 'SUCCEEDED'], ['ERP', 'SUCCEEDED']]);
    expect(partners(account.id).map((p) => p['name'])).toEqual(['Acme Renamed GmbH']);
    expect(companies(account.id).map((id) => hubspot.record('companies', id)?.properties['name'])).toEqual(['Acme Renamed GmbH']);
    // The HubSpot company id is the account's CRM external id, the Odoo partner id its ERP one.
    const view = await stack.gql<{ account: { externalIds: { system: string; remoteId: string }[] } }>('query($id: ID!) { account(id: $id) { externalIds { system remoteId } } }', { id: account.id });
    expect(view.body.data?.account.externalIds).toEqual(expect.arrayContaining([
      { system: 'CRM', remoteId: companies(account.id)[0] }, { system: 'ERP', remoteId: String(partners(account.id)[0]?.id) },
    ]));

    // A worker that crashed after the vendors answered but before the links were stored: the retry finds the records.
    await stack.db.query(`DELETE FROM sync.remote_links WHERE canonical_id = $1`, [account.id]);
    await rename('acme', account.id, 'Acme Renamed Again GmbH');
    await settled('acme');
    expect(partners(account.id).map((p) => p['name'])).toEqual(['Acme Renamed Again GmbH']);
    expect(companies(account.id)).toHaveLength(1);

    const before = hubspot.log.length + odoo.log.length;
    const globex = await someAccount('globex');
    await rename('globex', globex.id, 'Globex Renamed');
    const globexJobs = await settled('globex', `kind = 'ACCOUNT_UPSERT' AND entity_id = $2`, [globex.id]);
    expect(globexJobs.map((j) => j.target_system).sort()).toEqual(['BILLING', 'ERP']);
    expect(hubspot.log.length + odoo.log.length).toBe(before);
  });

  it('a company created in HubSpot arrives by webhook, becomes one canonical account, one Odoo partner and one Stripe customer; a rename in HubSpot renames both', async () => {
    await hubspot.deliverWebhooks(webhookUrl(crmConnection));
    await settled('acme');
    const remoteId = hubspot.create('companies', { name: 'Webhook Widgets Ltd', domain: 'widgets.example' });
    expect(await hubspot.deliverWebhooks(webhookUrl(crmConnection))).toEqual([200]);
    await settled('acme');
    const [account] = await stack.db.query<{ id: string; name: string; domain: string }>(`SELECT id, name, domain FROM crm.accounts WHERE tenant_id = 'acme' AND name = 'Webhook Widgets Ltd'`);
    expect(account).toMatchObject({ domain: 'widgets.example' });
    // Our id went back to HubSpot (so our later upserts update this company), and the ERP got exactly one partner.
    expect(hubspot.record('companies', remoteId)?.properties['sor_canonical_id']).toBe(account!.id);
    expect(partners(account!.id).map((p) => p['name'])).toEqual(['Webhook Widgets Ltd']);
    const stripeCustomers = () => [...stripe.account(stripeAccount.accountId).customers.values()].filter((c) => c.metadata?.['canonicalId'] === account!.id);
    expect(stripeCustomers().map((c) => c.name)).toEqual(['Webhook Widgets Ltd']);

    hubspot.edit('companies', remoteId, { name: 'Webhook Widgets International' });
    // The claim's own change event and the rename, delivered in reverse order: events are hints, the record is re-read.
    hubspot.pendingEvents.reverse();
    await hubspot.deliverWebhooks(webhookUrl(crmConnection));
    await settled('acme');
    const [renamed] = await stack.db.query<{ name: string }>('SELECT name FROM crm.accounts WHERE id = $1', [account!.id]);
    expect(renamed?.name).toBe('Webhook Widgets International');
    expect(partners(account!.id).map((p) => p['name'])).toEqual(['Webhook Widgets International']);
    expect(stripeCustomers().map((c) => c.name)).toEqual(['Webhook Widgets International']);
    expect(await stack.db.query(`SELECT 1 FROM crm.accounts WHERE tenant_id = 'acme' AND name LIKE 'Webhook Widgets%'`)).toHaveLength(1);
    // Nothing was pushed back to HubSpot as a CRM job: the change came from there.
    expect(await jobs('acme', `kind = 'ACCOUNT_UPSERT' AND entity_id = $2 AND target_system = 'CRM'`, [account!.id])).toEqual([]);
  });

  it('refuses forged, stale, replayed and misdirected HubSpot deliveries', async () => {
    await settled('acme');
    const url = webhookUrl(crmConnection);
    const body = JSON.stringify([{ eventId: 990001, subscriptionId: 1, portalId: 62515, appId: 1, occurredAt: Date.now(), subscriptionType: 'company.propertyChange', attemptNumber: 0, objectId: 1000, changeSource: 'CRM_UI' }]);
    const post = (target: string, headers: Record<string, string>, payload = body) => fetch(target, { method: 'POST', headers, body: payload });
    const events = async () => (await stack.db.query<{ n: string }>(`SELECT count(*)::text AS n FROM sync.remote_events WHERE connection_id = $1`, [crmConnection]))[0]?.n;
    const stored = await events();

    // Bad signature: the body changed after signing.
    const signed = hubspot.sign('POST', url, body, Date.now());
    expect((await post(url, signed, body.replace('990001', '990002'))).status).toBe(401);
    // Stale: signed correctly six minutes ago (HubSpot's window is five).
    expect((await post(url, hubspot.sign('POST', url, body, Date.now() - 6 * 60_000))).status).toBe(401);
    // Missing signature.
    expect((await post(url, { 'content-type': 'application/json' })).status).toBe(401);
    expect(await events()).toBe(stored);

    // Replay of a good delivery within the window: stored and queued once.
    const first = await post(url, signed);
    expect(first.status).toBe(200);
    const replay = await post(url, signed);
    expect(await replay.json()).toEqual({ received: true, duplicate: true });
    expect(await jobs('acme', `kind = 'REMOTE_CHANGE' AND idempotency_key = $2`, [`remote:${crmConnection}:990001`])).toHaveLength(1);

    // Another tenant's connection (same HubSpot app, so the same client secret): acme's signed delivery sent to
    // globex's address fails, since HubSpot signs the URI it called.
    const globexConnection = await createConnection({
      system: 'CRM', adapter: 'hubspot', settings: JSON.stringify({ apiBase: hubspot.url }), credentials: { apiKey: 'pat-na1-acme', webhookSecret: CLIENT_SECRET },
    }, 'globex');
    try {
      const misdirected = await post(webhookUrl(globexConnection), signed);
      expect(misdirected.status).toBe(401);
      expect(await stack.db.query(`SELECT 1 FROM sync.remote_events WHERE connection_id = $1`, [globexConnection])).toEqual([]);
      // An unknown connection id is a 404, whatever the signature.
      expect((await post(webhookUrl('conn_does_not_exist'), signed)).status).toBe(404);
    } finally {
      const off = await admin('mutation($id: ID!) { disableConnection(id: $id) { id } }', { id: globexConnection }, 'globex');
      expect(off.body.errors).toBeUndefined();
    }
  });

  it('quote-to-cash for acme creates and posts the invoice in Odoo once; a payment registered in Odoo is polled in and goes out as an invoice status event', async () => {
    const { account, invoice, moves } = await quoteToCash(await someAccount('acme', 2));
    // Paid in Odoo, outside our API (the register-payment wizard of its UI).
    const context = { active_model: 'account.move', active_ids: [moves[0]!.id] };
    const wizard = odoo.execute('account.payment.register', 'create', [{}], { context }) as number;
    odoo.execute('account.payment.register', 'action_create_payments', [[wizard]], { context });
    const polled = await stack.sync.pollNow();
    expect(polled.find((o) => o.connectionId === erpConnection && o.kind === 'invoice')?.enqueued).toBeGreaterThan(0);
    await settled('acme');
    const [paid] = await stack.db.query<{ status: string; amount_due_minor: string }>('SELECT status, amount_due_minor::text FROM erp.invoices WHERE id = $1', [invoice!.id]);
    expect(paid).toEqual({ status: 'PAID', amount_due_minor: '0' });
    const statusEvents = await stack.db.query<{ state: string }>(`SELECT state FROM sync.events WHERE tenant_id = 'acme' AND kind = 'INVOICE_STATUS' AND entity_id = $1 ORDER BY seq`, [invoice!.id]);
    expect(statusEvents.map((e) => e.state)).toContain('PAID');
    const payments = await stack.db.query(`SELECT 1 FROM erp.payment_applications WHERE tenant_id = 'acme' AND invoice_id = $1`, [invoice!.id]);
    expect(payments).toHaveLength(1);
    // Polling again reads the same (overlapping) records: nothing new is queued, nothing applied twice.
    const again = await stack.sync.pollNow();
    expect(again.filter((o) => o.connectionId === erpConnection).reduce((n, o) => n + o.enqueued, 0)).toBe(0);
  });

  it('a crash between reading a page and advancing the cursor loses and duplicates nothing', async () => {
    await settled('acme');
    // A second worker process's view of the connections (its own runtime, as `npm run worker` builds it).
    const runtime: ConnectionRuntime = connectionsFromConfig(stack.db, stack.config, createLogger('silent', 'test'));
    const connection = await runtime.store.byId(erpConnection);
    if (!connection) throw new Error('no connection');
    // An account billed in the Odoo company's currency (USD), where Odoo's credit limit means the same money.
    const [account] = await stack.db.query<{ id: string }>(`SELECT id FROM erp.customers WHERE tenant_id = 'acme' AND currency = 'USD' ORDER BY id DESC LIMIT 1`);
    if (!account) throw new Error('the seed has no USD customer for acme');
    const partner = await (async () => {
      await rename('acme', account.id, 'Polled Partner Co');
      await settled('acme');
      return partners(account.id)[0]!;
    })();
    // Odoo's user changes the credit limit (ERP-owned): only polling can tell us.
    odoo.execute('res.partner', 'write', [[partner.id], { credit_limit: 777 }]);
    const cursor = async () => (await stack.db.query<{ cursor: string }>(`SELECT cursor FROM sync.poll_cursors WHERE connection_id = $1 AND kind = 'customer'`, [erpConnection]))[0]?.cursor;
    const before = await cursor();
    const jobCount = async () => (await jobs('acme', `kind = 'REMOTE_CHANGE' AND entity_type = 'customer'`)).length;
    const jobsBefore = await jobCount();
    await expect(pollConnection(stack.db, runtime, connection, { afterRead: async () => { throw new Error('worker killed'); } })).rejects.toThrow('worker killed');
    expect(await cursor()).toBe(before);
    expect(await jobCount()).toBe(jobsBefore);

    const [customer] = (await pollConnection(stack.db, runtime, connection)).filter((o) => o.kind === 'customer');
    expect(customer?.enqueued).toBeGreaterThan(0);
    expect(await cursor()).not.toBe(before);
    const [rerun] = (await pollConnection(stack.db, runtime, connection)).filter((o) => o.kind === 'customer');
    expect(rerun?.enqueued).toBe(0);
    await settled('acme');
    const [finance] = await stack.db.query<{ credit_limit_minor: string; currency: string }>('SELECT credit_limit_minor::text, currency FROM erp.customers WHERE id = $1', [account.id]);
    expect(finance).toEqual({ credit_limit_minor: '77700', currency: 'USD' });
  });

  it('a CRM-owned field edited in Odoo is reported as drift and repaired from the CRM', async () => {
    await settled('acme');
    const account = await someAccount('acme', 4);
    await rename('acme', account.id, 'Owned By CRM Inc');
    await settled('acme');
    const partner = partners(account.id)[0]!;
    odoo.execute('res.partner', 'write', [[partner.id], { name: 'Renamed In Odoo' }]);
    await stack.sync.pollNow();
    const done = await settled('acme', `kind = 'REMOTE_CHANGE' AND entity_type = 'customer' AND entity_id = $2`, [String(partner.id)]);
    expect(done.some((j) => j.result?.includes('drift: name "Renamed In Odoo"'))).toBe(true);
    expect(partners(account.id).map((p) => p['name'])).toEqual(['Owned By CRM Inc']);
    const repairs = await jobs('acme', `kind = 'ACCOUNT_UPSERT' AND entity_id = $2 AND idempotency_key LIKE 'drift:%'`, [account.id]);
    expect(repairs.map((j) => j.state)).toEqual(['SUCCEEDED']);
  });

  it('an acme mapping of a HubSpot custom property becomes customFields for acme only after the resync it queues; remoteData needs the admin scope', async () => {
    await hubspot.deliverWebhooks(webhookUrl(crmConnection));
    await settled('acme');
    const [linked] = await stack.db.query<{ canonical_id: string; remote_id: string }>(`SELECT canonical_id, remote_id FROM sync.remote_links WHERE connection_id = $1 AND entity_type = 'Account' ORDER BY canonical_id LIMIT 1`, [crmConnection]);
    if (!linked) throw new Error('no linked account');
    // Set in HubSpot with no event delivered: only the resync can bring it.
    hubspot.edit('companies', linked.remote_id, { acme_tier: 'gold' });
    hubspot.pendingEvents.length = 0;
    const customFields = async (tenant: string, id: string) =>
      (await stack.gql<{ account: { customFields: { name: string; value: string | null }[] } }>('query($id: ID!) { account(id: $id) { customFields { name value } } }', { id }, { tenant })).body.data?.account.customFields;
    expect(await customFields('acme', linked.canonical_id)).toEqual([]);

    const set = (fieldMappings: unknown) => admin<{ setConnectionFieldMappings: { settings: string } }>(
      'mutation($id: ID!, $m: String!) { setConnectionFieldMappings(id: $id, fieldMappings: $m) { settings } }', { id: crmConnection, m: JSON.stringify(fieldMappings) });
    // Validated on write: a field mapped twice, or a property name HubSpot cannot have, is refused and nothing changes.
    const twice = await set({ account: { customFields: [{ property: 'acme_tier', field: 'tier' }, { property: 'acme_size', field: 'tier' }] } });
    expect(twice.body.errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
    expect((await set({ account: { customFields: [{ property: 'Bad Name', field: 'tier' }] } })).body.errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
    const ok = await set({ account: { customFields: [{ property: 'acme_tier', field: 'tier' }] } });
    expect(ok.body.errors).toBeUndefined();
    expect(JSON.parse(ok.body.data!.setConnectionFieldMappings.settings)).toMatchObject({ fieldMappings: { version: 2, account: { customFields: [{ property: 'acme_tier', field: 'tier' }] } } });
    const resync = await settled('acme', `idempotency_key LIKE $2`, [`resync:${crmConnection}:v2:%`]);
    const links = await stack.db.query(`SELECT 1 FROM sync.remote_links WHERE connection_id = $1 AND entity_type = 'Account'`, [crmConnection]);
    expect(resync).toHaveLength(links.length);
    expect(resync.every((j) => j.state === 'SUCCEEDED')).toBe(true);
    expect(await customFields('acme', linked.canonical_id)).toEqual([{ name: 'tier', value: 'gold' }]);
    // Globex has no such mapping.
    const globex = await someAccount('globex');
    expect(await customFields('globex', globex.id)).toEqual([]);

    // remoteData: the HubSpot company as HubSpot sent it, for admins only.
    const query = 'query($id: ID!) { account(id: $id) { id remoteData } }';
    const plain = await stack.gql<{ account: { remoteData: unknown } | null }>(query, { id: linked.canonical_id });
    expect(plain.body.errors?.[0]?.extensions?.['code']).toBe('FORBIDDEN');
    expect(JSON.stringify(plain.body.data ?? null)).not.toContain('gold');
    const asAdmin = await admin<{ account: { remoteData: { id: string; properties: Record<string, string | null> } } }>(query, { id: linked.canonical_id });
    expect(asAdmin.body.errors).toBeUndefined();
    expect(asAdmin.body.data?.account.remoteData).toMatchObject({ id: linked.remote_id, properties: { acme_tier: 'gold', sor_canonical_id: linked.canonical_id } });
    // A reference-store account has no vendor record.
    expect((await admin<{ account: { remoteData: unknown } }>(query, { id: globex.id }, 'globex')).body.data?.account.remoteData).toBeNull();
  });

  it('with the name owned by the ERP (Odoo mappings), a HubSpot rename is drift pushed back from ours, and a HubSpot change keeps the custom fields Odoo maps', async () => {
    await hubspot.deliverWebhooks(webhookUrl(crmConnection));
    await settled('acme');
    const remoteId = hubspot.create('companies', { name: 'Owned Names Ltd', domain: 'owned.example' });
    await hubspot.deliverWebhooks(webhookUrl(crmConnection));
    await settled('acme');
    const [account] = await stack.db.query<{ id: string }>(`SELECT id FROM crm.accounts WHERE tenant_id = 'acme' AND name = 'Owned Names Ltd'`);
    if (!account) throw new Error('the HubSpot company did not arrive');
    const [partner] = partners(account.id);
    if (!partner) throw new Error('no Odoo partner');
    // A custom field of acme's Odoo (Odoo refuses to read a field it does not have).
    odoo.defineField('res.partner', 'x_segment');
    odoo.execute('res.partner', 'write', [[partner['id']], { x_segment: 'enterprise' }]);
    const setErpMappings = (fieldMappings: unknown) => admin<{ setConnectionFieldMappings: { settings: string } }>(
      'mutation($id: ID!, $m: String!) { setConnectionFieldMappings(id: $id, fieldMappings: $m) { settings } }', { id: erpConnection, m: JSON.stringify(fieldMappings) });
    const setCrmMappings = (fieldMappings: unknown) => admin<{ setConnectionFieldMappings: { settings: string } }>(
      'mutation($id: ID!, $m: String!) { setConnectionFieldMappings(id: $id, fieldMappings: $m) { settings } }', { id: crmConnection, m: JSON.stringify(fieldMappings) });
    expect((await setErpMappings({ account: { customFields: [{ odoo: 'x_segment', field: 'segment' }], ownership: { name: 'ERP' } } })).body.errors).toBeUndefined();
    expect((await setCrmMappings({ account: { customFields: [{ property: 'acme_tier', field: 'tier' }] } })).body.errors).toBeUndefined();
    // The mapping change resyncs every linked partner.
    await settled('acme');
    const view = async () => (await stack.gql<{ account: { name: string; customFields: { name: string; value: string | null }[] } }>(
      'query($id: ID!) { account(id: $id) { name customFields { name value } } }', { id: account.id }, { tenant: 'acme' })).body.data?.account;
    expect((await view())?.customFields).toContainEqual({ name: 'segment', value: 'enterprise' });

    try {
      // HubSpot renames the company and sets the property acme maps.
      hubspot.edit('companies', remoteId, { name: 'Renamed In HubSpot', acme_tier: 'silver' });
      await hubspot.deliverWebhooks(webhookUrl(crmConnection));
      const changes = await settled('acme', `kind = 'REMOTE_CHANGE' AND entity_id = $2`, [remoteId]);
      expect(changes.some((j) => j.result?.includes('drift: name "Renamed In HubSpot" at hubspot, "Owned Names Ltd" ours (the ERP owns it)'))).toBe(true);
      const after = await view();
      expect(after?.name).toBe('Owned Names Ltd');
      expect(after?.customFields).toEqual(expect.arrayContaining([{ name: 'segment', value: 'enterprise' }, { name: 'tier', value: 'silver' }]));
      // The drift is repaired at HubSpot from ours (one upsert for that HubSpot version), and Odoo kept its name.
      const repairs = await jobs('acme', `kind = 'ACCOUNT_UPSERT' AND entity_id = $2 AND target_system = 'CRM' AND idempotency_key LIKE 'drift:%'`, [account.id]);
      expect(repairs.map((j) => j.state)).toEqual(['SUCCEEDED']);
      expect(hubspot.record('companies', remoteId)?.properties['name']).toBe('Owned Names Ltd');
      expect(partners(account.id).map((p) => p['name'])).toEqual(['Owned Names Ltd']);

      // The ERP's rename wins and reaches HubSpot.
      odoo.execute('res.partner', 'write', [[partner['id']], { name: 'Renamed In Odoo Ltd' }]);
      await stack.sync.pollNow();
      await settled('acme');
      expect((await view())?.name).toBe('Renamed In Odoo Ltd');
      expect(hubspot.record('companies', remoteId)?.properties['name']).toBe('Renamed In Odoo Ltd');
    } finally {
      expect((await setErpMappings({})).body.errors).toBeUndefined();
      await settled('acme');
    }
  });

  it('the initial sync of HubSpot companies is one parent job with progress, survives a vendor failure mid-way without duplicate or gap, and stays within the rate limit', async () => {
    await hubspot.deliverWebhooks(webhookUrl(crmConnection));
    await settled('acme');
    const names = Array.from({ length: 150 }, (_, i) => `Initial Co ${String(i).padStart(3, '0')}`);
    for (const name of names) hubspot.create('companies', { name });
    // No webhooks for these: only the initial sync reads them.
    hubspot.pendingEvents.length = 0;
    const logStart = hubspot.log.length;
    const start = () => admin<{ startInitialSync: { id: string; kind: string } }>('mutation($id: ID!) { startInitialSync(connectionId: $id) { id kind } }', { id: crmConnection });
    const started = await start();
    expect(started.body.errors).toBeUndefined();
    const parentId = started.body.data!.startInitialSync.id;
    // Once the first page is queued, HubSpot fails a few calls (the parent's next page or a page job): both retry.
    await waitForSync(stack, 'acme', async () => (await jobs('acme', `kind = 'REMOTE_PAGE' AND payload->>'parentJobId' = $2`, [parentId])).length > 0);
    hubspot.faults.failNext = [503, 503, 503];
    // 150 companies, each read, claimed (our id written back) and pushed to Odoo, paced at 10 requests/s per vendor.
    await settled('acme', 'true', [], 150_000);
    // Asking again returns the same job.
    expect((await start()).body.data?.startInitialSync.id).toBe(parentId);

    const view = await admin<{ syncJob: { state: string; kind: string; progress: { seen: number; written: number; failed: number; finished: boolean } } }>(
      'query($id: ID!) { syncJob(id: $id) { state kind progress { seen written failed finished } } }', { id: parentId });
    expect(view.body.errors).toBeUndefined();
    const parent = view.body.data!.syncJob;
    expect(parent).toMatchObject({ state: 'SUCCEEDED', kind: 'INITIAL_SYNC', progress: { failed: 0, finished: true } });
    expect(parent.progress.seen).toBeGreaterThanOrEqual(names.length);
    expect(parent.progress.written).toBe(parent.progress.seen);
    const accounts = await stack.db.query<{ name: string }>(`SELECT name FROM crm.accounts WHERE tenant_id = 'acme' AND name LIKE 'Initial Co %' ORDER BY name`);
    expect(accounts.map((a) => a.name)).toEqual(names);
    // Within HubSpot's limit: no 429 while it ran, and no 10-second window above the portal's allowance.
    const calls = hubspot.log.slice(logStart);
    expect(calls.filter((r) => r.status === 429)).toEqual([]);
    const busiest = Math.max(...calls.map((r) => calls.filter((o) => o.at >= r.at && o.at < r.at + 10_000).length));
    expect(busiest).toBeLessThanOrEqual(hubspot.rateLimitPer10s);
    // Polling now carries on from where the initial read ended.
    expect(await stack.db.query(`SELECT 1 FROM sync.poll_cursors WHERE connection_id = $1 AND kind = 'account'`, [crmConnection])).toHaveLength(1);
  }, 180_000);

  it('reconciliation compares Odoo invoice amounts with ours: an invoice paid further in Odoo is AMOUNT_MISMATCH and repaired from Odoo', async () => {
    await settled('acme');
    const { invoice, moves } = await quoteToCash(await someAccount('acme', 5));
    const context = { active_model: 'account.move', active_ids: [moves[0]!.id] };
    const wizard = odoo.execute('account.payment.register', 'create', [{}], { context }) as number;
    odoo.execute('account.payment.register', 'action_create_payments', [[wizard]], { context });
    // No poll: reconciliation finds it.
    const report = await stack.gql<{ reconcile: { drift: { entityType: string; entityId: string; kind: string; field: string | null; expected: string | null; actual: string | null; repairQueued: boolean }[] } }>(
      'mutation { reconcile { drift { entityType entityId kind field expected actual repairQueued } } }');
    expect(report.body.errors).toBeUndefined();
    const [item] = report.body.data!.reconcile.drift.filter((d) => d.entityId === invoice.id);
    const [row] = await stack.db.query<{ total_minor: string }>('SELECT total_minor::text FROM erp.invoices WHERE id = $1', [invoice.id]);
    expect(item).toEqual({ entityType: 'Invoice', entityId: invoice.id, kind: 'AMOUNT_MISMATCH', field: 'amountDue', expected: row?.total_minor, actual: '0', repairQueued: true });
    await settled('acme');
    const [after] = await stack.db.query<{ status: string }>('SELECT status FROM erp.invoices WHERE id = $1', [invoice.id]);
    expect(after?.status).toBe('PAID');
    const again = await stack.gql<{ reconcile: { drift: { entityId: string }[] } }>('mutation { reconcile { drift { entityId } } }');
    expect(again.body.data?.reconcile.drift.filter((d) => d.entityId === invoice.id)).toEqual([]);
  });

  it('a HubSpot connection without webhooks is polled instead: its companies arrive, and polling again changes nothing', async () => {
    // Globex's own portal (a second fake), connected without a client secret: no webhooks, so polling is the way in.
    const portal = new HubSpotFake({ tokens: ['pat-na1-globex'] });
    await portal.start();
    const id = await createConnection({ system: 'CRM', adapter: 'hubspot', settings: JSON.stringify({ apiBase: portal.url }), credentials: { apiKey: 'pat-na1-globex' } }, 'globex');
    try {
      const runtime: ConnectionRuntime = connectionsFromConfig(stack.db, stack.config, createLogger('silent', 'test'));
      const connection = (await runtime.store.byId(id))!;
      const remoteId = portal.create('companies', { name: 'Polled Globex Partner' });
      const [first] = await pollConnection(stack.db, runtime, connection);
      expect(first).toMatchObject({ kind: 'account', caughtUp: true });
      expect(first!.enqueued).toBeGreaterThan(0);
      await settled('globex');
      const [account] = await stack.db.query<{ id: string }>(`SELECT id FROM crm.accounts WHERE tenant_id = 'globex' AND name = 'Polled Globex Partner'`);
      expect(portal.record('companies', remoteId)?.properties['sor_canonical_id']).toBe(account?.id);
      // The claim changed the company at HubSpot: that version is read once more, then nothing.
      await pollConnection(stack.db, runtime, connection);
      await settled('globex');
      const [again] = await pollConnection(stack.db, runtime, connection);
      expect(again?.enqueued).toBe(0);
      expect(await stack.db.query(`SELECT 1 FROM crm.accounts WHERE tenant_id = 'globex' AND name = 'Polled Globex Partner'`)).toHaveLength(1);
      // Acme's connection has webhooks: it is not polled.
      const acme = (await runtime.store.byId(crmConnection))!;
      expect(await pollConnection(stack.db, runtime, acme)).toEqual([]);
    } finally {
      await admin('mutation($id: ID!) { disableConnection(id: $id) { id } }', { id }, 'globex');
      await portal.stop();
    }
  });

  it('remoteData needs the admin scope on the live stream too (graphql-ws)', async () => {
    await settled('acme');
    const account = await someAccount('acme');
    // From the first event on (`after: "0"` replays what was missed): the account's jobs of the first test are there.
    const watch = 'subscription($id: ID!) { syncStatusChanged(filter: { entityId: $id }, after: "0") { eventId account { id remoteData } } }';
    const user = wsClient(stack.url, await stack.token({ tenant: 'acme' }));
    const adminWs = wsClient(stack.url, await stack.token({ tenant: 'acme', scopes: [...ALL_SCOPES, 'admin'] }));
    try {
      const plain = collect(user.client, watch, { id: account.id });
      const privileged = collect(adminWs.client, watch, { id: account.id });
      await Promise.all([plain.next(1), privileged.next(1)]);
      const first = plain.results[0]!;
      expect(first.errors?.map((e) => [e.extensions?.['code'], e.path?.join('.')])).toContainEqual(['FORBIDDEN', 'syncStatusChanged.account.remoteData']);
      expect((first.data?.['syncStatusChanged'] as { account: { remoteData: unknown } }).account.remoteData).toBeNull();
      const seen = privileged.results[0]!;
      expect(seen.errors).toBeUndefined();
      expect((seen.data?.['syncStatusChanged'] as { account: { remoteData: { properties: Record<string, string> } } }).account.remoteData.properties['sor_canonical_id']).toBe(account.id);
      plain.dispose();
      privileged.dispose();
    } finally {
      await user.client.dispose();
      await adminWs.client.dispose();
    }
  });
});
