import { HubSpotFake } from '../fakes/hubspot/server';
import { OdooFake } from '../fakes/odoo/server';
import { type StripeFake, startStripeFake } from '../fakes/stripe/server';
import { enqueueSyncJob } from '../lib/outbox';
import { remotePushFlow } from '../subgraphs/sync/engine/flows/remote-push';
import { job as jobFromRow } from '../subgraphs/sync/ledger/store';
import { canonicalErpInvoiceId } from '../subgraphs/sync/remote/inbound-erp';
import { ALL_SCOPES, type TestStack, startTestStack } from './support/stack';
import { waitForSync } from './support/wait';

interface JobRow { id: string; kind: string; state: string; entity_type: string; target_system: string | null; result: string | null; attempts: number }
interface InvoiceView {
  id: string; number: string; status: string; currency: string; account: { id: string };
  lines: { description: string; quantity: number; unitPrice: { amountMinor: string }; amount: { amountMinor: string } }[];
  subtotal: { amountMinor: string }; tax: { amountMinor: string }; total: { amountMinor: string }; amountDue: { amountMinor: string };
  externalIds: { system: string; remoteId: string }[];
}
const INVOICE_FIELDS = `id number status currency account { id } lines { description quantity unitPrice { amountMinor } amount { amountMinor } }
  subtotal { amountMinor } tax { amountMinor } total { amountMinor } amountDue { amountMinor } externalIds { system remoteId }`;

/**
 * The Odoo side of Connectors II through the real stack: acme's ERP on the Odoo fake (CRM on HubSpot, billing on
 * Stripe, all over HTTP), globex on the reference stores. Invoices raised in Odoo come in by polling; writes through
 * our ERP API go out to Odoo as idempotent jobs; the Odoo connection's field mappings and ownership decide what an
 * Odoo edit does; polling leases connections one by one.
 */
describe('connectors: Odoo-born invoices, ERP API writes pushed to Odoo, Odoo field mappings and ownership, polling leases', () => {
  let stack: TestStack;
  let hubspot: HubSpotFake;
  let odoo: OdooFake;
  let stripe: StripeFake;
  let erpConnection: string;
  let billingConnection: string;
  let stripeAccountId: string;

  const admin = <D>(query: string, variables?: Record<string, unknown>, tenant = 'acme') =>
    stack.token({ tenant, scopes: [...ALL_SCOPES, 'admin'] }).then((token) => stack.gql<D>(query, variables, { token }));
  const createConnection = async (input: Record<string, unknown>) => {
    const res = await admin<{ createConnection: { id: string } }>('mutation($input: CreateConnectionInput!) { createConnection(input: $input) { id } }', { input });
    expect(res.body.errors).toBeUndefined();
    return res.body.data!.createConnection.id;
  };
  const jobs = (tenant: string, where: string, params: unknown[] = []) =>
    stack.db.query<JobRow>(`SELECT id, kind, state, entity_type, target_system, result, attempts FROM sync.jobs WHERE tenant_id = $1 AND ${where} ORDER BY created_at, id`, [tenant, ...params]);
  /** Waits until no job of the tenant is pending, running or waiting for a retry, then returns those matching. */
  const settled = (tenant: string, where = 'true', params: unknown[] = []) =>
    waitForSync(stack, tenant, async () => ((await jobs(tenant, `state IN ('PENDING', 'RUNNING', 'FAILED')`)).length === 0 ? jobs(tenant, where, params) : null), 30_000);
  const partners = (ref: string) => odoo.rows('res.partner').filter((p) => p['ref'] === ref);
  /** An acme account billed in USD (the Odoo company's currency), with its Odoo partner made by renaming it through the API. */
  const linkedAccount = async (offset: number, name: string) => {
    const [row] = await stack.db.query<{ id: string }>(`SELECT id FROM erp.customers WHERE tenant_id = 'acme' AND currency = 'USD' ORDER BY id OFFSET $1 LIMIT 1`, [offset]);
    if (!row) throw new Error(`the seed has fewer than ${offset + 1} USD customers for acme`);
    const res = await stack.gql('mutation($id: ID!, $name: String!) { updateAccount(id: $id, input: { name: $name }) { id } }', { id: row.id, name });
    expect(res.body.errors).toBeUndefined();
    await settled('acme');
    const [partner] = partners(row.id);
    if (!partner) throw new Error('no Odoo partner was made');
    return { id: row.id, partnerId: partner.id };
  };
  /** Raises, posts and (optionally) pays an invoice in Odoo's own UI: nothing of it goes through our API. */
  const odooInvoice = (partnerId: number, lines: [string, number, number][], pay: boolean) => {
    const move = odoo.execute('account.move', 'create', [{
      move_type: 'out_invoice', partner_id: partnerId, invoice_line_ids: lines.map(([name, quantity, price]) => [0, 0, { name, quantity, price_unit: price }]),
    }]) as number;
    odoo.execute('account.move', 'action_post', [[move]]);
    if (pay) {
      const context = { active_model: 'account.move', active_ids: [move] };
      const wizard = odoo.execute('account.payment.register', 'create', [{}], { context }) as number;
      odoo.execute('account.payment.register', 'action_create_payments', [[wizard]], { context });
    }
    return move;
  };
  const invoiceView = async (id: string) => {
    const res = await stack.gql<{ invoice: InvoiceView | null }>(`query($id: ID!) { invoice(id: $id) { ${INVOICE_FIELDS} } }`, { id });
    expect(res.body.errors).toBeUndefined();
    return res.body.data?.invoice ?? null;
  };
  /** The Odoo calls our side made of `model.method`, whose values (second argument) set `field`. */
  const writesOf = (model: string, field: string) => odoo.calls.filter((c) => c.model === model && c.method === 'write' && field in ((c.args[1] ?? {}) as Record<string, unknown>));

  beforeAll(async () => {
    hubspot = new HubSpotFake({ tokens: ['pat-na1-acme'], clientSecret: 'hubspot-app-client-secret-acme' });
    odoo = new OdooFake({ db: 'acme', login: 'api@acme.example', apiKey: 'odoo-key-acme' });
    await Promise.all([hubspot.start(), odoo.start()]);
    stripe = await startStripeFake();
    const stripeAccount = stripe.addAccount();
    stripeAccountId = stripeAccount.accountId;
    stack = await startTestStack({ accounts: 30, env: { SYNC_RETRY_BASE_MS: '200', SYNC_POLL_INTERVAL_SECONDS: '0' } });
    await createConnection({
      system: 'CRM', adapter: 'hubspot', settings: JSON.stringify({ apiBase: hubspot.url }), credentials: { apiKey: 'pat-na1-acme', webhookSecret: 'hubspot-app-client-secret-acme' },
    });
    erpConnection = await createConnection({
      system: 'ERP', adapter: 'odoo', settings: JSON.stringify({ apiBase: odoo.url, db: 'acme', login: 'api@acme.example' }), credentials: { apiKey: 'odoo-key-acme' },
    });
    billingConnection = await createConnection({ system: 'BILLING', adapter: 'stripe', settings: JSON.stringify({ apiBase: stripe.url }), credentials: { apiKey: stripeAccount.secretKey } });
  });
  afterAll(async () => {
    await stack?.stop();
    await Promise.all([hubspot?.stop(), odoo?.stop(), stripe?.close()]);
  });

  it('an invoice raised, posted and paid in Odoo is polled in once as a canonical invoice (derived id, lines, amounts, state) and goes out as invoice status events', async () => {
    const account = await linkedAccount(0, 'Odoo Born Customer Inc');
    const move = odooInvoice(account.partnerId, [['Consulting', 3, 120.5], ['Travel', 1, 99.99]], true);
    const polled = await stack.sync.pollNow();
    expect(polled.find((o) => o.connectionId === erpConnection && o.kind === 'invoice')?.enqueued).toBeGreaterThan(0);
    await settled('acme');

    const id = canonicalErpInvoiceId(erpConnection, String(move));
    const invoice = await invoiceView(id);
    expect(invoice).toMatchObject({
      id, number: odoo.row('account.move', move)?.['name'], status: 'PAID', currency: 'USD', account: { id: account.id },
      lines: [
        { description: 'Consulting', quantity: 3, unitPrice: { amountMinor: '12050' }, amount: { amountMinor: '36150' } },
        { description: 'Travel', quantity: 1, unitPrice: { amountMinor: '9999' }, amount: { amountMinor: '9999' } },
      ],
      subtotal: { amountMinor: '46149' }, tax: { amountMinor: '0' }, total: { amountMinor: '46149' }, amountDue: { amountMinor: '0' },
    });
    expect(invoice?.externalIds).toContainEqual({ system: 'ERP', remoteId: `odoo:${move}` });
    const events = async () => (await stack.db.query<{ state: string }>(`SELECT state FROM sync.events WHERE tenant_id = 'acme' AND kind = 'INVOICE_STATUS' AND entity_id = $1 ORDER BY seq`, [id])).map((e) => e.state);
    expect(await events()).toEqual(['DRAFT', 'POSTED', 'PAID']);
    const applications = async () => stack.db.query(`SELECT 1 FROM erp.payment_applications WHERE tenant_id = 'acme' AND invoice_id = $1`, [id]);
    expect(await applications()).toHaveLength(1);

    // Polling again, and a forced re-read of the same invoice: one invoice, one payment, no new event.
    const again = await stack.sync.pollNow();
    expect(again.filter((o) => o.connectionId === erpConnection).reduce((n, o) => n + o.enqueued, 0)).toBe(0);
    await stack.db.transaction((tx) => enqueueSyncJob(tx, {
      tenant: 'acme', kind: 'REMOTE_CHANGE', entityType: 'invoice', entityId: String(move), sourceSystem: 'ERP', targetSystem: null, correlationId: 'reread',
      idempotencyKey: `reread:${move}`, payload: { connectionId: erpConnection, eventId: `reread:${move}`, type: 'invoice.reread', objectKind: 'invoice', remoteId: String(move), force: true },
    }));
    stack.sync.worker.wake();
    const [reread] = await settled('acme', `idempotency_key = $2`, [`reread:${move}`]);
    expect(reread).toMatchObject({ state: 'SUCCEEDED', result: `invoice ${id}: nothing to apply` });
    expect(await stack.db.query(`SELECT 1 FROM erp.invoices WHERE tenant_id = 'acme' AND remote_id = $1`, [`odoo:${move}`])).toHaveLength(1);
    expect(await applications()).toHaveLength(1);
    expect(await events()).toEqual(['DRAFT', 'POSTED', 'PAID']);
  });

  it('an Odoo invoice for a partner linked to none of our accounts is kept and reported, and mirrored once the partner is linked', async () => {
    const stranger = odoo.execute('res.partner', 'create', [{ name: 'Stranger Ltd', customer_rank: 1 }]) as number;
    const move = odooInvoice(stranger, [['Widgets', 2, 50]], false);
    await stack.sync.pollNow();
    const [job] = await settled('acme', `kind = 'REMOTE_CHANGE' AND entity_type = 'invoice' AND entity_id = $2`, [String(move)]);
    expect(job?.state).toBe('SUCCEEDED');
    expect(job?.result).toContain(`partner ${stranger} is linked to no account of ours: not mirrored`);
    const id = canonicalErpInvoiceId(erpConnection, String(move));
    expect(await stack.db.query('SELECT 1 FROM erp.invoices WHERE id = $1', [id])).toEqual([]);

    // Reconciliation reports it (and re-reads it, still in vain).
    type Drift = { entityType: string; entityId: string; kind: string; field: string | null; actual: string | null; repairQueued: boolean };
    const report = await stack.gql<{ reconcile: { drift: Drift[] } }>('mutation { reconcile { drift { entityType entityId kind field actual repairQueued } } }');
    expect(report.body.errors).toBeUndefined();
    expect(report.body.data?.reconcile.drift.filter((d) => d.entityId === id)).toEqual([
      { entityType: 'Invoice', entityId: id, kind: 'MISSING', field: 'account', actual: `partner ${stranger} is linked to no account of ours`, repairQueued: true },
    ]);
    await settled('acme');
    expect(await stack.db.query('SELECT 1 FROM erp.invoices WHERE id = $1', [id])).toEqual([]);

    // Odoo's user links the partner to one of our accounts (our id as its reference): the next poll mirrors the invoice.
    const [free] = await stack.db.query<{ id: string }>(
      `SELECT c.id FROM erp.customers c WHERE c.tenant_id = 'acme' AND c.currency = 'USD'
       AND NOT EXISTS (SELECT 1 FROM sync.remote_links l WHERE l.canonical_id = c.id AND l.entity_type = 'Customer') ORDER BY c.id DESC LIMIT 1`,
    );
    if (!free) throw new Error('no unlinked USD customer left');
    odoo.execute('res.partner', 'write', [[stranger], { ref: free.id }]);
    await stack.sync.pollNow();
    await settled('acme');
    expect(await invoiceView(id)).toMatchObject({ id, status: 'POSTED', account: { id: free.id }, total: { amountMinor: '10000' }, amountDue: { amountMinor: '10000' } });
    expect(await stack.db.query('SELECT 1 FROM sync.remote_unmatched WHERE connection_id = $1', [erpConnection])).toEqual([]);
    const after = await stack.gql<{ reconcile: { drift: Drift[] } }>('mutation { reconcile { drift { entityType entityId kind field actual repairQueued } } }');
    expect(after.body.data?.reconcile.drift.filter((d) => d.entityId === id)).toEqual([]);
  });

  it('writes through the ERP API for acme reach Odoo as REMOTE_PUSH jobs committed with the write, a lost answer changes Odoo once; globex gets no job', async () => {
    await settled('acme');
    const account = await linkedAccount(1, 'Pushed Credit Corp');
    // Odoo carries the credit limit out, and the answer is lost: the job retries and finds it already there.
    odoo.dropAnswers.set('write', 1);
    const writesBefore = writesOf('res.partner', 'credit_limit').length;
    const set = await stack.gql('mutation($a: ID!) { setCreditLimit(input: { accountId: $a, creditLimit: { amountMinor: "250000", currency: "USD" } }) { creditLimit { amountMinor } } }', { a: account.id });
    expect(set.body.errors).toBeUndefined();
    const [push] = await settled('acme', `kind = 'REMOTE_PUSH' AND entity_id = $2`, [account.id]);
    expect(push).toMatchObject({ state: 'SUCCEEDED', entity_type: 'Account', target_system: 'ERP', attempts: 2 });
    expect(push?.result).toContain('already has credit limit 250000 USD');
    expect(odoo.row('res.partner', account.partnerId)?.['credit_limit']).toBe(2500);
    expect(writesOf('res.partner', 'credit_limit').length - writesBefore).toBe(1);

    // An invoice created, posted and paid through the ERP API: one Odoo invoice, posted, paid by one Odoo payment.
    const created = await stack.gql<{ createInvoice: { id: string } }>(
      'mutation($a: ID!) { createInvoice(input: { accountId: $a, currency: "USD", lines: [{ description: "Support plan", quantity: 2, unitPrice: { amountMinor: "7500", currency: "USD" } }] }) { id } }',
      { a: account.id });
    expect(created.body.errors).toBeUndefined();
    const invoiceId = created.body.data!.createInvoice.id;
    await settled('acme');
    expect(odoo.rows('account.move').filter((m) => m['ref'] === invoiceId).map((m) => m['state'])).toEqual(['draft']);
    // Odoo posts it and the answer is lost: the retry finds it posted and does not ask again.
    odoo.dropAnswers.set('action_post', 1);
    expect((await stack.gql('mutation($id: ID!) { postInvoice(id: $id) { status } }', { id: invoiceId })).body.errors).toBeUndefined();
    const posted = await settled('acme', `kind = 'REMOTE_PUSH' AND entity_id = $2`, [invoiceId]);
    expect(posted.map((j) => [j.state, j.attempts])).toEqual([['SUCCEEDED', 1], ['SUCCEEDED', 2]]);
    expect(odoo.calls.filter((c) => c.model === 'account.move' && c.method === 'action_post')).toHaveLength(1);
    const paid = await stack.gql<{ recordPayment: { id: string } }>(
      'mutation($a: ID!, $i: ID!) { recordPayment(input: { accountId: $a, amount: { amountMinor: "15000", currency: "USD" }, method: "wire", invoiceIds: [$i] }) { id } }',
      { a: account.id, i: invoiceId });
    expect(paid.body.errors).toBeUndefined();
    await settled('acme');
    const pushes = await jobs('acme', `kind = 'REMOTE_PUSH' AND entity_id IN ($2, $3)`, [invoiceId, paid.body.data!.recordPayment.id]);
    expect(pushes.map((j) => [j.entity_type, j.state])).toEqual([['Invoice', 'SUCCEEDED'], ['Invoice', 'SUCCEEDED'], ['Payment', 'SUCCEEDED']]);
    const moves = odoo.rows('account.move').filter((m) => m['ref'] === invoiceId);
    expect(moves.map((m) => [m['state'], m['payment_state'], m['amount_total']])).toEqual([['posted', 'paid', 150]]);
    expect(odoo.rows('account.payment').filter((p) => p['ref'] === paid.body.data!.recordPayment.id)).toHaveLength(1);
    // The poll that reads these back applies nothing twice.
    await stack.sync.pollNow();
    await settled('acme');
    expect(await stack.db.query(`SELECT 1 FROM erp.payment_applications WHERE tenant_id = 'acme' AND invoice_id = $1`, [invoiceId])).toHaveLength(1);

    // Globex (reference ERP): no job, no call to Odoo.
    const callsBefore = odoo.calls.length;
    const [g] = await stack.db.query<{ id: string; currency: string }>(`SELECT id, currency FROM erp.customers WHERE tenant_id = 'globex' ORDER BY id LIMIT 1`);
    const gset = await stack.gql('mutation($a: ID!, $c: String!) { setCreditLimit(input: { accountId: $a, creditLimit: { amountMinor: "1000", currency: $c } }) { id } }', { a: g!.id, c: g!.currency }, { tenant: 'globex' });
    expect(gset.body.errors).toBeUndefined();
    expect(await jobs('globex', `kind = 'REMOTE_PUSH'`)).toEqual([]);
    expect(odoo.calls.length).toBe(callsBefore);
  });

  it('a worker that died between Odoo\'s answer and our commit: the job run again by another worker changes the Odoo record once', async () => {
    await settled('acme');
    const account = await linkedAccount(2, 'Crashed Push Corp');
    // The mirror write as the ERP API makes it, with its push job claimed by a worker that is about to die.
    await stack.db.query(`UPDATE erp.customers SET credit_limit_minor = 880000 WHERE tenant_id = 'acme' AND id = $1`, [account.id]);
    const row = await stack.db.transaction(async (tx) => {
      const id = await enqueueSyncJob(tx, {
        tenant: 'acme', kind: 'REMOTE_PUSH', entityType: 'Account', entityId: account.id, sourceSystem: 'ERP', targetSystem: 'ERP',
        correlationId: 'push-crash', idempotencyKey: `remote-push:Account:${account.id}:crash`,
      });
      const [claimed] = await tx.query(`UPDATE sync.jobs SET state = 'RUNNING', attempts = 1, locked_by = 'dead-worker', locked_until = now() + interval '1 hour' WHERE id = $1 RETURNING *`, [id]);
      return claimed;
    });
    if (!row) throw new Error('no job');
    const writesBefore = writesOf('res.partner', 'credit_limit').length;
    // The dying worker: Odoo takes the write and answers; the worker dies before its SUCCEEDED (and the link) commit.
    await remotePushFlow(stack.sync.systems)(jobFromRow(row));
    await stack.db.query(`DELETE FROM sync.remote_links WHERE connection_id = $1 AND entity_type = 'Customer' AND canonical_id = $2`, [erpConnection, account.id]);
    expect(odoo.row('res.partner', account.partnerId)?.['credit_limit']).toBe(8800);
    // Its lock runs out and a live worker runs the job again from the start.
    await stack.db.query(`UPDATE sync.jobs SET locked_until = now() - interval '1 second' WHERE id = $1`, [row['id']]);
    stack.sync.worker.wake();
    const [job] = await settled('acme', 'id = $2', [row['id']]);
    expect(job?.state).toBe('SUCCEEDED');
    expect(writesOf('res.partner', 'credit_limit').length - writesBefore).toBe(1);
    expect(partners(account.id)).toHaveLength(1);
  });

  it('polling leases connections one by one in short statements: a connection another engine polls is skipped, no transaction stays open while Odoo is slow, a lease lost mid-round commits nothing more', async () => {
    await settled('acme');
    await stack.db.query(`INSERT INTO sync.poll_leases (connection_id, holder, leased_until) VALUES ($1, 'other-engine', now() + interval '1 minute')`, [erpConnection]);
    const skipped = await stack.sync.pollNow();
    expect(skipped.filter((o) => o.connectionId === erpConnection)).toEqual([]);
    await stack.db.query(`DELETE FROM sync.poll_leases WHERE connection_id = $1`, [erpConnection]);

    // Odoo answers slowly: while the round runs, no session of this database sits in a transaction for long.
    odoo.faults.latencyMs = 250;
    try {
      const round = stack.sync.pollNow();
      let done = false;
      void round.finally(() => (done = true));
      let longest = 0;
      let samples = 0;
      while (!done) {
        const [open] = await stack.db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND state = 'idle in transaction' AND xact_start < now() - interval '200 milliseconds'`,
        );
        longest = Math.max(longest, open?.n ?? 0);
        samples += 1;
      }
      const outcomes = await round;
      expect(outcomes.filter((o) => o.connectionId === erpConnection).map((o) => o.kind).sort()).toEqual(['customer', 'invoice']);
      expect(samples).toBeGreaterThan(1);
      expect(longest).toBe(0);
    } finally {
      odoo.faults.latencyMs = 0;
    }
    expect(await stack.db.query('SELECT 1 FROM sync.poll_leases WHERE connection_id = $1', [erpConnection])).toEqual([]);

    // Our lease taken over mid-round (as when it ran out): the next page read is not committed, the cursor stays.
    const cursor = async () => (await stack.db.query<{ cursor: string }>(`SELECT cursor FROM sync.poll_cursors WHERE connection_id = $1 AND kind = 'invoice'`, [erpConnection]))[0]?.cursor;
    const invoiceCursor = await cursor();
    odoo.faults.latencyMs = 500;
    try {
      const answered = odoo.log.length;
      const round = stack.sync.pollNow();
      // The round's first Odoo answer (the partners' page): the invoices' page is read after it.
      while (odoo.log.length === answered) await stack.db.query('SELECT 1');
      await stack.db.query(`UPDATE sync.poll_leases SET holder = 'other-engine' WHERE connection_id = $1`, [erpConnection]);
      expect((await round).filter((o) => o.connectionId === erpConnection)).toEqual([]);
      expect(await cursor()).toBe(invoiceCursor);
      expect(await stack.db.query<{ holder: string }>('SELECT holder FROM sync.poll_leases WHERE connection_id = $1', [erpConnection])).toEqual([{ holder: 'other-engine' }]);
    } finally {
      odoo.faults.latencyMs = 0;
      await stack.db.query('DELETE FROM sync.poll_leases WHERE connection_id = $1', [erpConnection]);
    }
  });

  it('Odoo field mappings are validated and versioned, a change resyncs the partners, mapped fields reach the account; with the ERP owning the name an Odoo rename wins', async () => {
    await settled('acme');
    const account = await linkedAccount(3, 'Mapped Partner AG');
    odoo.defineField('res.partner', 'x_segment');
    odoo.defineField('res.partner', 'website');
    // Set in Odoo with no poll: only the resync brings it.
    odoo.execute('res.partner', 'write', [[account.partnerId], { x_segment: 'enterprise', website: 'mapped.example' }]);
    const set = (fieldMappings: unknown) => admin<{ setConnectionFieldMappings: { settings: string } }>(
      'mutation($id: ID!, $m: String!) { setConnectionFieldMappings(id: $id, fieldMappings: $m) { settings } }', { id: erpConnection, m: JSON.stringify(fieldMappings) });
    const refused = [
      { account: { customFields: [{ odoo: 'Bad Field', field: 'segment' }] } },
      { account: { customFields: [{ odoo: 'x_segment', field: 'segment' }, { odoo: 'x_size', field: 'segment' }] } },
      { account: { fields: [{ odoo: 'website', canonical: 'domain' }], customFields: [{ odoo: 'website', field: 'site' }] } },
      { account: { fields: [{ odoo: 'x_revenue', canonical: 'annualRevenue' }] } },
      { account: { ownership: { name: 'SAP' } } },
    ];
    for (const bad of refused) expect((await set(bad)).body.errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
    const stored = async () => (await admin<{ connection: { settings: string } }>('query($id: ID!) { connection(id: $id) { settings } }', { id: erpConnection })).body.data?.connection.settings;
    expect(JSON.parse((await stored())!)).toMatchObject({ fieldMappings: { version: 1 } });

    const ok = await set({ account: { fields: [{ odoo: 'website', canonical: 'domain' }], customFields: [{ odoo: 'x_segment', field: 'segment' }], ownership: { name: 'ERP', domain: 'ERP' } } });
    expect(ok.body.errors).toBeUndefined();
    expect(JSON.parse(ok.body.data!.setConnectionFieldMappings.settings)).toMatchObject({
      fieldMappings: { version: 2, account: { ownership: { name: 'ERP', domain: 'ERP', industry: 'CRM', creditLimit: 'ERP' } } },
    });
    const resync = await settled('acme', `idempotency_key LIKE $2`, [`resync:${erpConnection}:v2:%`]);
    const linked = await stack.db.query(`SELECT 1 FROM sync.remote_links WHERE connection_id = $1 AND entity_type = 'Customer'`, [erpConnection]);
    expect(resync).toHaveLength(linked.length);
    expect(resync.every((j) => j.state === 'SUCCEEDED')).toBe(true);
    const view = async (tenant: string, id: string) =>
      (await stack.gql<{ account: { name: string; domain: string | null; customFields: { name: string; value: string | null }[] } }>(
        'query($id: ID!) { account(id: $id) { name domain customFields { name value } } }', { id }, { tenant })).body.data?.account;
    expect(await view('acme', account.id)).toMatchObject({ domain: 'mapped.example', customFields: [{ name: 'segment', value: 'enterprise' }] });
    const [globex] = await stack.db.query<{ id: string }>(`SELECT id FROM crm.accounts WHERE tenant_id = 'globex' ORDER BY id LIMIT 1`);
    expect((await view('globex', globex!.id))?.customFields).toEqual([]);

    // The ERP owns the name now: a rename in Odoo is applied (and reaches the other systems), not reported as drift.
    odoo.execute('res.partner', 'write', [[account.partnerId], { name: 'Renamed In Odoo AG' }]);
    await stack.sync.pollNow();
    const applied = await settled('acme', `kind = 'REMOTE_CHANGE' AND entity_type = 'customer' AND entity_id = $2`, [String(account.partnerId)]);
    expect(applied.at(-1)?.result).toContain('name applied from odoo');
    expect(applied.some((j) => j.result?.includes('drift'))).toBe(false);
    expect((await view('acme', account.id))?.name).toBe('Renamed In Odoo AG');
    expect(partners(account.id).map((p) => p['name'])).toEqual(['Renamed In Odoo AG']);
    expect(await jobs('acme', `kind = 'ACCOUNT_UPSERT' AND entity_id = $2 AND idempotency_key LIKE 'drift:%'`, [account.id])).toEqual([]);
    // HubSpot gets the ERP's name as any account change.
    const company = [...Array(hubspot.count('companies') + 10).keys()].map((i) => hubspot.record('companies', String(1000 + i)))
      .find((c) => c?.properties['sor_canonical_id'] === account.id);
    expect(company?.properties['name']).toBe('Renamed In Odoo AG');
  });
  it('Stripe customer metadata mapped onto customFields and canonical fields: validated, versioned, resynced; the CRM keeps its fields until billing is made their owner', async () => {
    await settled('acme');
    const account = await linkedAccount(5, 'Metadata Mapped SA');
    const customer = [...stripe.account(stripeAccountId).customers.values()].find((c) => c.metadata?.['canonicalId'] === account.id);
    if (!customer) throw new Error('no Stripe customer was made');
    // Set in Stripe's dashboard; its webhook is not delivered: only the resync brings it.
    customer.metadata = { ...customer.metadata, tier: 'platinum', sector: 'Aerospace' };
    const set = (fieldMappings: unknown) => admin<{ setConnectionFieldMappings: { settings: string } }>(
      'mutation($id: ID!, $m: String!) { setConnectionFieldMappings(id: $id, fieldMappings: $m) { settings } }', { id: billingConnection, m: JSON.stringify(fieldMappings) });
    for (const bad of [
      { customer: { customFields: [{ metadata: 'canonicalId', field: 'ours' }] } },
      { customer: { customFields: [{ metadata: 'tier', field: 'tier' }, { metadata: 'tier', field: 'level' }] } },
      { customer: { ownership: { industry: 'ERP' } } },
    ]) expect((await set(bad)).body.errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');

    const view = async () => (await stack.gql<{ account: { industry: string | null; customFields: { name: string; value: string | null }[] } }>(
      'query($id: ID!) { account(id: $id) { industry customFields { name value } } }', { id: account.id })).body.data?.account;
    const before = (await view())?.industry;
    const mapping = { customer: { fields: [{ metadata: 'sector', canonical: 'industry' }], customFields: [{ metadata: 'tier', field: 'tier' }] } };
    const v2 = await set(mapping);
    expect(v2.body.errors).toBeUndefined();
    expect(JSON.parse(v2.body.data!.setConnectionFieldMappings.settings)).toMatchObject({ fieldMappings: { version: 2 } });
    const resync = await settled('acme', `idempotency_key LIKE $2`, [`resync:${billingConnection}:v2:%`]);
    expect(resync.length).toBeGreaterThan(0);
    expect(resync.every((j) => j.state === 'SUCCEEDED')).toBe(true);
    const mine = resync.find((j) => j.result?.startsWith(`account ${account.id}:`));
    expect(mine?.result).toContain('drift: industry "Aerospace"');
    expect(await view()).toEqual({ industry: before, customFields: expect.arrayContaining([{ name: 'tier', value: 'platinum' }]) });

    // Billing made the owner of the industry: Stripe's value wins at the next version's resync.
    expect((await set({ customer: { ...mapping.customer, ownership: { industry: 'BILLING' } } })).body.errors).toBeUndefined();
    await settled('acme', `idempotency_key LIKE $2`, [`resync:${billingConnection}:v3:%`]);
    expect((await view())?.industry).toBe('Aerospace');
  });
  it('a mapped field Odoo does not have stops its polling with the reason on the connection; fixing the mapping resumes it', async () => {
    await settled('acme');
    // A partner to read (Odoo checks the fields named against the records it returns).
    await linkedAccount(6, 'Polled Fields GmbH');
    const set = (fieldMappings: unknown) => admin<{ setConnectionFieldMappings: { settings: string } }>(
      'mutation($id: ID!, $m: String!) { setConnectionFieldMappings(id: $id, fieldMappings: $m) { settings } }', { id: erpConnection, m: JSON.stringify(fieldMappings) });
    const status = async () => (await admin<{ connection: { status: { state: string; lastError: string | null } } }>(
      'query($id: ID!) { connection(id: $id) { status { state lastError } } }', { id: erpConnection })).body.data?.connection.status;
    // A Studio field removed in Odoo after it was mapped: Odoo refuses every read that names it.
    expect((await set({ account: { customFields: [{ odoo: 'x_removed', field: 'removed' }] } })).body.errors).toBeUndefined();
    const polled = await stack.sync.pollNow();
    expect(polled.filter((o) => o.connectionId === erpConnection && o.kind === 'customer')).toEqual([]);
    expect((await status())?.lastError).toMatch(/^polling failed: .*Invalid field 'x_removed'/);

    expect((await set({})).body.errors).toBeUndefined();
    const resumed = await stack.sync.pollNow();
    expect(resumed.find((o) => o.connectionId === erpConnection && o.kind === 'customer')?.caughtUp).toBe(true);
    // The resync the bad mapping queued fails until the fix, then reads with the mapping of the day.
    await settled('acme');
  });
});
