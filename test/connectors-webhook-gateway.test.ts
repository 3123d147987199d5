import { Writable } from 'node:stream';
import { type StripeFake, startStripeFake } from '../fakes/stripe/server';
import { stripeSignature } from '../fakes/stripe/webhooks';
import { WEBHOOK_MAX_BYTES } from '../lib/http/server';
import { createLogger } from '../lib/logger';
import { CONNECTION_FIELDS, type ConnectionView, asAdmin, connectStripe } from './support/stripe-connection';
import { type TestStack, startTestStack } from './support/stack';
import { waitForSync } from './support/wait';

const WEBHOOK_SECRET = 'whsec_gateway_route_secret_0123456789';
const ROTATED_WEBHOOK_SECRET = 'whsec_rotated_route_secret_9876543210';

/**
 * Vendors reach one public address, the gateway: `POST /webhooks/*` is forwarded to the sync service byte-exact with
 * its signature headers, bounded in size. And no secret (API keys, webhook secrets, bearer tokens) reaches the
 * process's log output or the audit log across connection create, test, rotate and webhook handling: every log line
 * of the whole stack (gateway, subgraphs, worker) is captured at debug level.
 */
describe('webhooks through the gateway, and secrets kept out of logs and audit', () => {
  let stack: TestStack;
  let fake: StripeFake;
  let connection: ConnectionView;
  let account: { accountId: string; secretKey: string };
  const logLines: string[] = [];
  const secrets: string[] = [WEBHOOK_SECRET, ROTATED_WEBHOOK_SECRET];

  const gatewayBase = () => stack.url.replace(/\/graphql$/, '');
  const post = (path: string, body: string | Buffer, headers: Record<string, string>) => fetch(`${gatewayBase()}${path}`, { method: 'POST', body, headers });
  const stored = (eventId: string) => stack.db.query('SELECT 1 FROM sync.remote_events WHERE connection_id = $1 AND event_id = $2', [connection.id, eventId]);
  /** A Stripe event about a record we do not sync (stored and acknowledged, starts no job). */
  const eventBody = (id: string, extra = '') => `{\n  "id": "${id}",  "object": "event", "type": "customer.updated", "created": ${Math.floor(Date.now() / 1000)},\n  "data": { "object": { "id": "cus_unknown", "object": "customer", "name": "Zoë  Ñandú \\u00e9" } }${extra}\n}`;

  beforeAll(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        logLines.push(chunk.toString('utf8'));
        done();
      },
    });
    fake = await startStripeFake();
    stack = await startTestStack({ accounts: 6, logger: createLogger('trace', 'test', sink) });
    ({ connection, account } = await connectStripe(stack, fake, { webhookSecret: WEBHOOK_SECRET, webhookBase: gatewayBase() }));
    secrets.push(account.secretKey);
  });
  afterAll(async () => {
    await stack.stop();
    await fake.close();
  });

  it("the fake's own signed deliveries reach the ledger through the gateway", async () => {
    const [customer] = await stack.db.query<{ id: string; currency: string }>(
      "SELECT id, currency FROM billing.customers WHERE tenant_id = 'acme' AND currency IN ('USD', 'EUR') ORDER BY id LIMIT 1",
    );
    const created = await stack.gql<{ createBillingSubscription: { id: string } }>(
      'mutation($a: ID!, $c: String!) { createBillingSubscription(input: { accountId: $a, currency: $c, items: [{ planCode: "starter" }] }) { id } }',
      { a: customer?.id, c: customer?.currency },
    );
    expect(created.body.errors).toBeUndefined();
    // Stripe creates the customer, subscription and first invoice, and sends their events to the gateway's address.
    const sent = await waitForSync(stack, 'acme', async () => {
      const events = fake.account(account.accountId).events;
      return events.some((e) => e.type === 'customer.subscription.created') ? events : null;
    }, 30_000);
    await fake.webhooks.settled();
    for (const event of sent) expect(await stored(event.id)).toHaveLength(1);
  });

  it('forwards the body byte-exact with its signature header; a forged signature is 401 and stores nothing', async () => {
    // Whitespace, key order and non-ASCII as the vendor sent them: any re-encoding on the way would break the HMAC.
    const body = eventBody('evt_gateway_exact');
    const ok = await post(`/webhooks/stripe/${connection.id}`, Buffer.from(body, 'utf8'), { 'content-type': 'application/json', 'stripe-signature': stripeSignature(body, WEBHOOK_SECRET) });
    expect(ok.status).toBe(200);
    expect(await stored('evt_gateway_exact')).toHaveLength(1);

    const forgedBody = eventBody('evt_gateway_forged');
    const forged = await post(`/webhooks/stripe/${connection.id}`, forgedBody, { 'content-type': 'application/json', 'stripe-signature': stripeSignature(forgedBody, 'whsec_wrong') });
    expect(forged.status).toBe(401);
    // A body changed by one byte after signing is refused too (the signature is checked on exactly these bytes).
    const tampered = await post(`/webhooks/stripe/${connection.id}`, `${forgedBody} `, { 'content-type': 'application/json', 'stripe-signature': stripeSignature(forgedBody, WEBHOOK_SECRET) });
    expect(tampered.status).toBe(401);
    const unsigned = await post(`/webhooks/stripe/${connection.id}`, forgedBody, { 'content-type': 'application/json' });
    expect(unsigned.status).toBe(401);
    expect(await stored('evt_gateway_forged')).toHaveLength(0);
  });

  it('refuses bodies over the limit with 413 (nothing stored), other methods with 405, unknown connections with 404', async () => {
    const big = eventBody('evt_gateway_big', `, "pad": "${'x'.repeat(WEBHOOK_MAX_BYTES)}"`);
    const tooBig = await post(`/webhooks/stripe/${connection.id}`, big, { 'content-type': 'application/json', 'stripe-signature': stripeSignature(big, WEBHOOK_SECRET) });
    expect(tooBig.status).toBe(413);
    expect(await stored('evt_gateway_big')).toHaveLength(0);
    const get = await fetch(`${gatewayBase()}/webhooks/stripe/${connection.id}`);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    const body = eventBody('evt_gateway_unknown');
    const unknown = await post('/webhooks/stripe/conn_nope', body, { 'stripe-signature': stripeSignature(body, WEBHOOK_SECRET) });
    expect(unknown.status).toBe(404);
    // GraphQL is served as before beside the webhook route.
    expect((await stack.gql<{ plans: unknown[] }>('{ plans { id } }')).body.data?.plans.length).toBeGreaterThan(0);
  });

  it('test and rotate: the new webhook secret is the one checked; no secret is ever logged or audited', async () => {
    const tested = await asAdmin<{ testConnection: { ok: boolean } }>(stack, 'mutation($id: ID!) { testConnection(id: $id) { ok } }', { id: connection.id });
    expect(tested.body.data?.testConnection.ok).toBe(true);
    // The key is revoked at Stripe: the test says so (an auth error, the kind of path that logs and audits a failure).
    const rolled = fake.rollKey(account.secretKey);
    secrets.push(rolled);
    const refused = await asAdmin<{ testConnection: { ok: boolean; errorCode: string | null } }>(stack, 'mutation($id: ID!) { testConnection(id: $id) { ok errorCode } }', { id: connection.id });
    expect(refused.body.data?.testConnection.ok).toBe(false);
    const rotated = await asAdmin<{ rotateConnectionCredentials: ConnectionView }>(
      stack, `mutation($id: ID!, $c: ConnectionCredentialsInput!) { rotateConnectionCredentials(id: $id, credentials: $c) { ${CONNECTION_FIELDS} } }`,
      { id: connection.id, c: { apiKey: rolled, webhookSecret: ROTATED_WEBHOOK_SECRET } },
    );
    expect(rotated.body.errors).toBeUndefined();
    expect(rotated.body.data?.rotateConnectionCredentials.credentials?.last4).toBe(rolled.slice(-4));
    const testedAgain = await asAdmin<{ testConnection: { ok: boolean } }>(stack, 'mutation($id: ID!) { testConnection(id: $id) { ok } }', { id: connection.id });
    expect(testedAgain.body.data?.testConnection.ok).toBe(true);
    const body = eventBody('evt_after_rotation');
    expect((await post(`/webhooks/stripe/${connection.id}`, body, { 'stripe-signature': stripeSignature(body, WEBHOOK_SECRET) })).status).toBe(401);
    expect((await post(`/webhooks/stripe/${connection.id}`, body, { 'stripe-signature': stripeSignature(body, ROTATED_WEBHOOK_SECRET) })).status).toBe(200);

    // The capture saw the stack's traffic (so an absence below means something): requests, the refused signatures.
    const logs = logLines.join('');
    expect(logs).toContain('"msg":"request"');
    expect(logs).toContain('webhook refused: signature');
    const audit = await stack.db.query<{ row: string }>("SELECT row_to_json(a)::text AS row FROM sync.audit_log a WHERE tenant_id = 'acme'");
    const auditText = audit.map((a) => a.row).join('\n');
    expect(auditText).toContain('createConnection');
    expect(auditText).toContain('rotateConnectionCredentials');
    for (const secret of secrets) {
      expect(logs).not.toContain(secret);
      expect(auditText).not.toContain(secret);
    }
    // Nor anything shaped like one: Stripe keys, webhook secrets, bearer JWTs (header.payload), signature headers.
    const shapes = [/sk_(test|live)_[A-Za-z0-9]{8,}/, /whsec_[A-Za-z0-9_]{8,}/, /eyJ[A-Za-z0-9_-]{8,}\.eyJ/, /v1=[0-9a-f]{64}/];
    for (const shape of shapes) {
      expect(logs).not.toMatch(shape);
      expect(auditText).not.toMatch(shape);
    }
  });
});
