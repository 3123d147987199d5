import Stripe from 'stripe';
import { type LoggedRequest, type StripeFake, startStripeFake } from '../fakes/stripe/server';

/**
 * The fake's wire format as a raw HTTP client sees it (no SDK): what makes it a stand-in for Stripe rather than for
 * our adapter.
 */
describe('Stripe fake wire format', () => {
  let fake: StripeFake;
  let key: string;
  const request = async (method: string, path: string, form?: string, headers: Record<string, string> = {}) => {
    const res = await fetch(`${fake.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/x-www-form-urlencoded', ...headers },
      ...(form === undefined ? {} : { body: form }),
    });
    return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> & { error?: Record<string, unknown> } };
  };

  beforeAll(async () => {
    fake = await startStripeFake();
    key = fake.addAccount().secretKey;
  });
  afterAll(() => fake.close());

  it('reads form bodies with bracketed nested keys', async () => {
    const cus = await request('POST', '/v1/customers', 'name=Acme%20Ltd&metadata[canonicalId]=acc_1&metadata[tier]=gold');
    expect(cus.body).toMatchObject({ object: 'customer', name: 'Acme Ltd', metadata: { canonicalId: 'acc_1', tier: 'gold' } });
    const prod = await request('POST', '/v1/products', 'name=Pro');
    const price = await request('POST', '/v1/prices', `product=${String(prod.body['id'])}&currency=usd&unit_amount=1500&recurring[interval]=month`);
    const sub = await request('POST', '/v1/subscriptions', `customer=${String(cus.body['id'])}&items[0][price]=${String(price.body['id'])}&items[0][quantity]=3&collection_method=send_invoice&days_until_due=30`);
    expect(sub.status).toBe(200);
    const items = sub.body['items'] as Stripe.ApiList<Stripe.SubscriptionItem>;
    expect(items.data.map((i) => [i.price.id, i.quantity])).toEqual([[price.body['id'], 3]]);
  });

  it('answers lists as list objects with a starting_after cursor', async () => {
    for (let i = 0; i < 3; i++) await request('POST', '/v1/customers', `name=List${i}`);
    const first = await request('GET', '/v1/customers?limit=2');
    expect(first.body).toMatchObject({ object: 'list', has_more: true, url: '/v1/customers' });
    const data = first.body['data'] as Stripe.Customer[];
    expect(data.map((c) => c.name)).toEqual(['List2', 'List1']);
    const second = await request('GET', `/v1/customers?limit=2&starting_after=${data[1]?.id ?? ''}`);
    expect((second.body['data'] as Stripe.Customer[]).map((c) => c.name)[0]).toBe('List0');
    expect((await request('GET', '/v1/customers?starting_after=cus_nope')).status).toBe(404);
  });

  it('refuses missing, unknown and revoked keys with 401 and Stripe\'s error envelope', async () => {
    const none = await fetch(`${fake.url}/v1/customers`);
    expect(none.status).toBe(401);
    expect(await none.json()).toMatchObject({ error: { type: 'invalid_request_error', message: expect.stringContaining('did not provide an API key') } });
    const unknown = await fetch(`${fake.url}/v1/customers`, { headers: { authorization: 'Bearer sk_test_nobody1234' } });
    expect(unknown.status).toBe(401);
    expect(await unknown.json()).toMatchObject({ error: { type: 'invalid_request_error', message: expect.stringContaining('Invalid API Key provided: sk_test_') } });
    const own = fake.addAccount().secretKey;
    fake.revokeKey(own);
    const revoked = await fetch(`${fake.url}/v1/customers`, { headers: { authorization: `Bearer ${own}` } });
    expect(revoked.status).toBe(401);
    expect(await revoked.json()).toMatchObject({ error: { type: 'invalid_request_error', code: 'api_key_expired' } });
    // Basic auth with the key as user name, as `curl -u sk_test_...:` sends it, is Stripe's other scheme.
    expect((await fetch(`${fake.url}/v1/customers`, { headers: { authorization: `Basic ${Buffer.from(`${key}:`).toString('base64')}` } })).status).toBe(200);
    // The secret itself is never echoed in full.
    expect(JSON.stringify(await (await fetch(`${fake.url}/v1/customers`, { headers: { authorization: 'Bearer sk_test_verysecretvalue9' } })).json())).not.toContain('verysecretvalue');
  });

  it('replays a POST repeated with its Idempotency-Key and refuses the key with other parameters', async () => {
    const first = await request('POST', '/v1/customers', 'name=Once', { 'idempotency-key': 'k-once' });
    const again = await request('POST', '/v1/customers', 'name=Once', { 'idempotency-key': 'k-once' });
    expect(again.body['id']).toBe(first.body['id']);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    const other = await request('POST', '/v1/customers', 'name=Twice', { 'idempotency-key': 'k-once' });
    expect(other.status).toBe(400);
    expect(other.body.error).toMatchObject({ type: 'idempotency_error', message: expect.stringContaining('same parameters') });
  });

  it('speaks only the pinned Stripe-Version and answers with it', async () => {
    const ok = await request('GET', '/v1/customers?limit=1', undefined, { 'stripe-version': Stripe.API_VERSION });
    expect(ok.headers.get('stripe-version')).toBe(Stripe.API_VERSION);
    const old = await request('GET', '/v1/customers?limit=1', undefined, { 'stripe-version': '2020-08-27' });
    expect(old.status).toBe(400);
    expect(old.body.error).toMatchObject({ type: 'invalid_request_error' });
  });

  it('answers unknown objects and routes with 404 envelopes', async () => {
    expect((await request('GET', '/v1/customers/cus_missing')).body.error).toMatchObject({ type: 'invalid_request_error', code: 'resource_missing', message: "No such customer: 'cus_missing'" });
    expect((await request('GET', '/v1/nothing')).status).toBe(404);
  });

  it('deletes a customer (canceling its subscriptions) and lists what happened as events', async () => {
    const cus = await request('POST', '/v1/customers', 'name=Leaving');
    const id = String(cus.body['id']);
    const gone = await request('DELETE', `/v1/customers/${id}`);
    expect(gone.body).toEqual({ id, object: 'customer', deleted: true });
    expect((await request('GET', `/v1/customers/${id}`)).body).toEqual({ id, object: 'customer', deleted: true });
    const events = await request('GET', '/v1/events?type=customer.deleted&limit=1');
    const [event] = events.body['data'] as Stripe.Event[];
    expect(event).toMatchObject({ object: 'event', type: 'customer.deleted', api_version: Stripe.API_VERSION, data: { object: { id } } });
  });

  it('logs every request and measures the busiest window', async () => {
    const before = fake.log.length;
    await request('POST', '/v1/customers', 'name=Logged', { 'idempotency-key': 'k-logged' });
    expect(fake.log.slice(before)).toEqual([expect.objectContaining({ method: 'POST', path: '/v1/customers', idempotencyKey: 'k-logged', status: 200, replayed: false, at: expect.any(Number) })]);
    const at = (ms: number): LoggedRequest => ({ method: 'GET', path: '/', idempotencyKey: null, stripeVersion: null, account: 'a', status: 200, replayed: false, at: ms });
    expect(fake.maxRequestsPer(1000, [at(0), at(100), at(999), at(1000), at(1500), at(2600)])).toBe(3);
  });
});
