import { HubSpotFake } from '../fakes/hubspot/server';
import { OdooFake } from '../fakes/odoo/server';
import { ALL_SCOPES, type TestStack, startTestStack } from './support/stack';

interface TestResult { ok: boolean; accountId: string | null; errorCode: string | null; connection: { adapter: string; status: { state: string } } }

/**
 * HubSpot and Odoo as connection adapters in the real stack: acme's CRM on HubSpot and ERP on Odoo (both fakes over
 * HTTP), created and tested through the admin API with encrypted credentials: the registry builds them from a
 * connection with its own settings and Outbound. What the sync flows do with them: connectors-hubspot-odoo.test.ts.
 */
describe('connections: acme CRM on HubSpot, ERP on Odoo', () => {
  let stack: TestStack;
  let hubspot: HubSpotFake;
  let odoo: OdooFake;
  const admin = <D>(query: string, variables?: Record<string, unknown>) =>
    stack.token({ tenant: 'acme', scopes: [...ALL_SCOPES, 'admin'] }).then((token) => stack.gql<D>(query, variables, { token }));
  const create = async (input: Record<string, unknown>) => {
    const res = await admin<{ createConnection: { id: string } }>('mutation($input: CreateConnectionInput!) { createConnection(input: $input) { id } }', { input });
    expect(res.body.errors).toBeUndefined();
    return res.body.data!.createConnection.id;
  };
  const test = async (id: string) => {
    const res = await admin<{ testConnection: TestResult }>('mutation($id: ID!) { testConnection(id: $id) { ok accountId errorCode connection { adapter status { state } } } }', { id });
    expect(res.body.errors).toBeUndefined();
    return res.body.data!.testConnection;
  };

  beforeAll(async () => {
    hubspot = new HubSpotFake({ tokens: ['pat-na1-acme'] });
    odoo = new OdooFake({ db: 'acme', login: 'api@acme.example', apiKey: 'odoo-key-acme' });
    await Promise.all([hubspot.start(), odoo.start()]);
    stack = await startTestStack({ accounts: 4 });
  });
  afterAll(async () => {
    await stack?.stop();
    await Promise.all([hubspot?.stop(), odoo?.stop()]);
  });

  it('builds the HubSpot adapter from a CRM connection and tests it against the portal', async () => {
    const id = await create({ system: 'CRM', adapter: 'hubspot', settings: JSON.stringify({ apiBase: hubspot.url, pipeline: 'default' }), credentials: { apiKey: 'pat-na1-acme' } });
    expect(await test(id)).toMatchObject({ ok: true, accountId: '62515', connection: { adapter: 'hubspot' } });
    expect(hubspot.log.some((r) => r.path === '/account-info/v3/details' && r.headers.authorization === 'Bearer pat-na1-acme')).toBe(true);
    hubspot.faults.revoked = true;
    expect(await test(id)).toMatchObject({ ok: false, errorCode: 'AUTH_ERROR' });
    hubspot.faults.revoked = false;
  });

  it('builds the Odoo adapter from an ERP connection (url, db and login in settings, the API key encrypted)', async () => {
    const id = await create({ system: 'ERP', adapter: 'odoo', settings: JSON.stringify({ apiBase: odoo.url, db: 'acme', login: 'api@acme.example' }), credentials: { apiKey: 'odoo-key-acme' } });
    expect(await test(id)).toMatchObject({ ok: true, connection: { adapter: 'odoo' } });
    const calls = odoo.log.map((r) => JSON.parse(r.body) as { params: { method: string; args: unknown[] } });
    expect(calls[0]!.params).toMatchObject({ method: 'authenticate', args: ['acme', 'api@acme.example', 'odoo-key-acme', {}] });
  });
});
