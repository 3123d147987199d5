import { type StripeFake, startStripeFake } from '../fakes/stripe/server';
import { enqueueSyncJob } from '../lib/outbox';
import { billingReferenceStore } from '../subgraphs/billing/connector/reference-store';
import { billingWriteHooks } from '../subgraphs/billing/hooks';
import { remotePushFlow } from '../subgraphs/sync/engine/flows/remote-push';
import { job as jobFromRow } from '../subgraphs/sync/ledger/store';
import { connectStripe } from './support/stripe-connection';
import { type TestStack, startTestStack } from './support/stack';
import { waitForSync } from './support/wait';
import { closeWon, jobSettled, openOpportunity } from './support/quote-to-cash';

interface JobRow { id: string; state: string; attempts: number; result: string | null }
interface SubView { id: string; status: string; items: { quantity: number }[] }

const WEBHOOK_SECRET = 'whsec_billing_push_secret_0123456789';
const SUB_FIELDS = 'id status items { quantity }';

/**
 * Writes through the billing subgraph's own mutations for a tenant on Stripe (acme) reach Stripe as REMOTE_PUSH jobs
 * committed with the write; the Idempotency-Key of every Stripe POST derives from the job id, so a retried job or one
 * taken over after its worker died does not create a second Stripe object. globex (reference store) gets no job.
 */
describe('acme on Stripe: billing API writes pushed as idempotent jobs, invoices paid in parts applied per payment', () => {
  let stack: TestStack;
  let fake: StripeFake;
  let stripeAccount: string;
  let accountId: string;
  let currency: string;

  const pushJobs = async (subscriptionId: string) =>
    stack.db.query<JobRow>("SELECT id, state, attempts, result FROM sync.jobs WHERE kind = 'REMOTE_PUSH' AND entity_id = $1 ORDER BY created_at, id", [subscriptionId]);
  const allPushed = (subscriptionId: string, count: number) => async () => {
    const jobs = await pushJobs(subscriptionId);
    return jobs.length === count && jobs.every((j) => ['SUCCEEDED', 'DEAD_LETTERED'].includes(j.state)) ? jobs : null;
  };
  const stripeSubs = (canonicalId: string) => [...fake.account(stripeAccount).subscriptions.values()].filter((s) => s.metadata?.['canonicalId'] === canonicalId);
  const settle = async () => {
    await fake.webhooks.settled();
    await waitForSync(stack, 'acme', async () => (await stack.db.query("SELECT 1 FROM sync.jobs WHERE tenant_id = 'acme' AND state IN ('PENDING', 'RUNNING', 'FAILED')")).length === 0);
  };
  const create = async (tenant: string, account: string, cur: string, quantity = 1) => {
    const res = await stack.gql<{ createBillingSubscription: SubView }>(
      `mutation($a: ID!, $c: String!, $q: Int!) { createBillingSubscription(input: { accountId: $a, currency: $c, items: [{ planCode: "growth", quantity: $q }] }) { ${SUB_FIELDS} } }`,
      { a: account, c: cur, q: quantity }, { tenant },
    );
    expect(res.body.errors).toBeUndefined();
    return res.body.data?.createBillingSubscription as SubView;
  };

  beforeAll(async () => {
    fake = await startStripeFake();
    stack = await startTestStack({ accounts: 8, env: { SYNC_RETRY_BASE_MS: '200' } });
    ({ account: { accountId: stripeAccount } } = await connectStripe(stack, fake, {
      webhookSecret: WEBHOOK_SECRET, webhookBase: stack.subgraphs.sync.url.replace(/\/graphql$/, ''),
    }));
    const [customer] = await stack.db.query<{ id: string; currency: string }>(
      "SELECT id, currency FROM billing.customers WHERE tenant_id = 'acme' AND currency IN ('USD', 'EUR') ORDER BY id LIMIT 1",
    );
    accountId = customer?.id ?? '';
    currency = customer?.currency ?? '';
  });
  afterEach(() => {
    fake.heal();
    fake.webhooks.release();
  });
  afterAll(async () => {
    await stack.stop();
    await fake.close();
  });

  it('create, change and cancel through the billing API reach Stripe once each, with keys derived from the job ids', async () => {
    const sub = await create('acme', accountId, currency);
    const [createJob] = await waitForSync(stack, 'acme', allPushed(sub.id, 1));
    expect(createJob?.state).toBe('SUCCEEDED');
    const [remote] = stripeSubs(sub.id);
    expect(stripeSubs(sub.id)).toHaveLength(1);
    expect(remote?.items.data.map((i) => i.quantity)).toEqual([1]);
    const subPost = fake.writes().find((w) => w.path === '/v1/subscriptions');
    expect(subPost?.idempotencyKey).toBe(`job:${createJob?.id}:subscription`);
    // The Stripe id is the subscription's vendor link, and the account's customer is Stripe's.
    const [link] = await stack.db.query<{ remote_id: string }>("SELECT remote_id FROM sync.remote_links WHERE entity_type = 'BillingSubscription' AND canonical_id = $1", [sub.id]);
    expect(link?.remote_id).toBe(remote?.id);

    const changed = await stack.gql<{ changeBillingSubscription: SubView }>(
      `mutation($id: ID!) { changeBillingSubscription(id: $id, input: { items: [{ planCode: "growth", quantity: 3 }] }) { ${SUB_FIELDS} } }`, { id: sub.id },
    );
    expect(changed.body.errors).toBeUndefined();
    const afterChange = await waitForSync(stack, 'acme', allPushed(sub.id, 2));
    expect(afterChange.map((j) => j.state)).toEqual(['SUCCEEDED', 'SUCCEEDED']);
    expect(stripeSubs(sub.id)[0]?.items.data.map((i) => i.quantity)).toEqual([3]);
    expect(fake.writes().filter((w) => w.idempotencyKey?.startsWith(`job:${afterChange[1]?.id}:items:`))).toHaveLength(1);

    const canceled = await stack.gql<{ cancelBillingSubscription: SubView }>(`mutation($id: ID!) { cancelBillingSubscription(id: $id) { ${SUB_FIELDS} } }`, { id: sub.id });
    expect(canceled.body.data?.cancelBillingSubscription.status).toBe('CANCELED');
    await waitForSync(stack, 'acme', allPushed(sub.id, 3));
    expect(stripeSubs(sub.id)[0]?.status).toBe('canceled');
    expect(stripeSubs(sub.id)).toHaveLength(1);
  });

  it('globex (reference store) writes enqueue no push and never reach Stripe', async () => {
    const [customer] = await stack.db.query<{ id: string; currency: string }>(
      "SELECT id, currency FROM billing.customers WHERE tenant_id = 'globex' AND currency IN ('USD', 'EUR') ORDER BY id LIMIT 1",
    );
    const before = fake.log.length;
    const sub = await create('globex', customer?.id ?? '', customer?.currency ?? '');
    expect(sub.status).toBe('ACTIVE');
    expect(await pushJobs(sub.id)).toEqual([]);
    expect(fake.log.slice(before).filter((r) => r.method === 'POST')).toEqual([]);
  });

  it('a job retried after its Stripe answers were lost creates one subscription (the retry replays its key)', async () => {
    await settle();
    fake.webhooks.hold();
    // The account and the plan exist at Stripe already, so the subscription create is the job's only POST and every
    // answer of its first attempt is lost: the attempt fails, the job is retried by the worker with the same job id.
    fake.dropResponseNext(3);
    const sub = await create('acme', accountId, currency, 2);
    const [job] = await waitForSync(stack, 'acme', allPushed(sub.id, 1), 30_000);
    expect(job?.state).toBe('SUCCEEDED');
    expect(job?.attempts).toBeGreaterThan(1);
    expect(stripeSubs(sub.id)).toHaveLength(1);
    const posts = fake.log.filter((r) => r.method === 'POST' && r.path === '/v1/subscriptions' && r.idempotencyKey === `job:${job?.id}:subscription`);
    // The lost attempt did create it at Stripe (one original answer), every later POST got that answer replayed.
    expect(posts.filter((r) => !r.replayed)).toHaveLength(1);
    expect(posts.at(-1)?.replayed).toBe(true);
  });

  it('an invoice paid in parts at Stripe is applied in the ERP once per payment, and the amounts reconcile', async () => {
    await settle();
    const opp = await openOpportunity(stack, 'acme');
    const q2c = await waitForSync(stack, 'acme', jobSettled(stack, await closeWon(stack, 'acme', opp.id)), 30_000);
    expect(q2c.state).toBe('SUCCEEDED');
    const erpInvoiceId = /invoice (inv_\w+) posted/.exec(q2c.result ?? '')?.[1] ?? '';
    const [link] = await stack.db.query<{ remote_id: string }>("SELECT remote_id FROM sync.remote_links WHERE entity_type = 'Invoice' AND canonical_id = $1", [erpInvoiceId]);
    const stripeInvoiceId = link?.remote_id ?? '';
    const total = fake.account(stripeAccount).invoices.get(stripeInvoiceId)?.amount_due ?? 0;
    expect(total).toBeGreaterThan(2);
    // The deal's amount (4900) is not the plan's price Stripe bills: the ERP invoice bills what Stripe's invoice does.
    const [erpTotal] = await stack.db.query<{ total: string }>('SELECT total_minor::text AS total FROM erp.invoices WHERE id = $1', [erpInvoiceId]);
    expect(erpTotal?.total).toBe(String(total));
    const erpState = async () => {
      const [inv] = await stack.db.query<{ status: string; amount_due_minor: string }>('SELECT status, amount_due_minor::text FROM erp.invoices WHERE id = $1', [erpInvoiceId]);
      const pays = await stack.db.query<{ id: string; amount_minor: string }>(
        'SELECT p.id, a.amount_minor::text FROM erp.payments p JOIN erp.payment_applications a ON a.tenant_id = p.tenant_id AND a.payment_id = p.id WHERE a.invoice_id = $1 ORDER BY p.created_at',
        [erpInvoiceId],
      );
      return { status: inv?.status, amountDue: BigInt(inv?.amount_due_minor ?? '-1'), payments: pays };
    };
    const paidAtStripe = () => fake.account(stripeAccount).invoices.get(stripeInvoiceId);
    const reconciled = (count: number) => async () => {
      const erp = await erpState();
      const stripe = paidAtStripe();
      const applied = erp.payments.reduce((sum, x) => sum + BigInt(x.amount_minor), 0n);
      return erp.payments.length === count && stripe && applied === BigInt(stripe.amount_paid) && erp.amountDue === BigInt(stripe.amount_remaining) ? erp : null;
    };

    // A third now: one ERP payment, the invoice still open on both sides.
    const first = Math.floor(total / 3);
    fake.payInvoicePart(stripeAccount, stripeInvoiceId, first);
    const afterFirst = await waitForSync(stack, 'acme', reconciled(1));
    expect(afterFirst.status).toBe('POSTED');
    expect(afterFirst.payments.map((x) => x.amount_minor)).toEqual([String(first)]);

    // The rest later: a second ERP payment with its own id; the invoice is PAID on both sides.
    fake.payInvoicePart(stripeAccount, stripeInvoiceId, total - first);
    const afterAll = await waitForSync(stack, 'acme', reconciled(2));
    expect(afterAll.status).toBe('PAID');
    expect(paidAtStripe()?.status).toBe('paid');
    expect(new Set(afterAll.payments.map((x) => x.id)).size).toBe(2);
    expect(afterAll.payments.map((x) => x.amount_minor)).toEqual([String(first), String(total - first)]);

    // Every event again (at-least-once delivery, any order): still two payments, same amounts.
    const events = fake.account(stripeAccount).events.filter((e) => e.type === 'invoice_payment.paid' || e.type === 'invoice.paid');
    expect(events.map((e) => e.type).sort()).toEqual(['invoice.paid', 'invoice_payment.paid', 'invoice_payment.paid']);
    for (const event of [...events].reverse()) fake.resendEvent(stripeAccount, event.id);
    await settle();
    expect(await reconciled(2)()).not.toBeNull();
  });

  it('an invoice issued and paid through the billing API reaches Stripe once: linked to the period Stripe billed, paid out of band when paid in full, each payment in the ERP once', async () => {
    await settle();
    const sub = await create('acme', accountId, currency, 2);
    await waitForSync(stack, 'acme', allPushed(sub.id, 1));
    await settle();
    const issued = await stack.gql<{ issueSubscriptionInvoice: { id: string; amount: { amountMinor: string } } }>(
      'mutation($s: ID!) { issueSubscriptionInvoice(subscriptionId: $s) { id amount { amountMinor } } }', { s: sub.id },
    );
    expect(issued.body.errors).toBeUndefined();
    const invoiceId = issued.body.data?.issueSubscriptionInvoice.id ?? '';
    const total = Number(issued.body.data?.issueSubscriptionInvoice.amount.amountMinor);
    expect(total).toBeGreaterThan(2);
    const [issueJob] = await waitForSync(stack, 'acme', allPushed(invoiceId, 1));
    expect(issueJob?.state).toBe('SUCCEEDED');
    // Stripe billed the subscription's period itself when it started: ours is linked to that invoice, none is added.
    const [link] = await stack.db.query<{ remote_id: string }>("SELECT remote_id FROM sync.remote_links WHERE entity_type = 'Invoice' AND canonical_id = $1", [invoiceId]);
    const remoteSub = stripeSubs(sub.id)[0];
    const stripeInvoices = [...fake.account(stripeAccount).invoices.values()].filter((i) => i.parent?.subscription_details?.subscription === remoteSub?.id || i.metadata?.['canonicalId'] === invoiceId);
    expect(stripeInvoices.map((i) => [i.id, i.amount_due])).toEqual([[link?.remote_id, total]]);
    const stripeInvoice = () => fake.account(stripeAccount).invoices.get(link?.remote_id ?? '');

    const pay = async (amountMinor: number) => {
      const res = await stack.gql<{ recordBillingPayment: { id: string; status: string } }>(
        'mutation($i: ID!, $a: MoneyInput!) { recordBillingPayment(invoiceId: $i, amount: $a) { id status } }',
        { i: invoiceId, a: { amountMinor: String(amountMinor), currency } },
      );
      expect(res.body.errors).toBeUndefined();
      const [payment] = await stack.db.query<{ id: string }>('SELECT id FROM billing.payments WHERE invoice_id = $1 ORDER BY received_at DESC, id DESC LIMIT 1', [invoiceId]);
      const [job] = await waitForSync(stack, 'acme', allPushed(payment?.id ?? '', 1));
      return job;
    };
    // A third: Stripe settles invoices whole, so nothing is marked there yet.
    const first = Math.floor(total / 3);
    const partial = await pay(first);
    expect(partial?.state).toBe('SUCCEEDED');
    expect(partial?.result).toMatch(/partial/);
    expect(stripeInvoice()?.status).toBe('open');
    // The rest: marked paid out of band, once.
    const rest = await pay(total - first);
    expect(rest?.result).toMatch(/marked paid out of band/);
    expect(stripeInvoice()?.status).toBe('paid');
    expect(fake.log.filter((r) => r.method === 'POST' && r.path === `/v1/invoices/${link?.remote_id}/pay` && !r.replayed)).toHaveLength(1);

    // Stripe's payment webhooks for it come back: the ERP keeps our two payments, not a third from Stripe's.
    await settle();
    const erpPayments = await stack.db.query<{ amount_minor: string }>(
      'SELECT a.amount_minor::text FROM erp.payment_applications a WHERE a.tenant_id = $1 AND a.invoice_id = $2 ORDER BY a.amount_minor',
      ['acme', invoiceId],
    );
    expect(erpPayments.map((p) => Number(p.amount_minor)).sort((a, b) => a - b)).toEqual([first, total - first].sort((a, b) => a - b));
    const changes = await stack.db.query<{ result: string }>(
      "SELECT result FROM sync.jobs WHERE tenant_id = 'acme' AND kind = 'REMOTE_CHANGE' AND payload->>'remoteId' = $1 AND state = 'SUCCEEDED'", [link?.remote_id],
    );
    expect(changes.map((c) => c.result)).toContainEqual(expect.stringMatching(/settled out of band by our billing API/));
    // And nothing about this invoice ended in the dead-letter queue (an ERP refusing a second payment would).
    const dead = await stack.db.query<{ kind: string }>(
      `SELECT kind FROM sync.jobs WHERE tenant_id = 'acme' AND state = 'DEAD_LETTERED'
         AND (entity_id = ANY($1::text[]) OR entity_id IN (SELECT id FROM billing.payments WHERE invoice_id = $2))`,
      [[invoiceId, link?.remote_id], invoiceId],
    );
    expect(dead).toEqual([]);
  });

  it('a worker killed mid-job (Stripe created the subscription, the worker died before recording it) leaves one subscription after another worker takes over', async () => {
    await settle();
    fake.webhooks.hold();
    // The mirror write as the billing API makes it, with its job claimed by a worker that is about to die.
    const mirror = billingReferenceStore(stack.db, 'acme', billingWriteHooks('acme', 'push-crash'));
    const [price] = (await mirror.activePricesByPlanCodes(['growth'], currency)).filter((p) => p.interval === 'MONTH');
    const sub = await mirror.createSubscription({
      accountId, currency, status: 'ACTIVE', periodStart: new Date().toISOString().slice(0, 10), trialDays: 0,
      items: [{ planId: price?.planId ?? '', priceId: price?.id ?? '', quantity: 5 }],
    });
    const row = await stack.db.transaction(async (tx) => {
      const id = await enqueueSyncJob(tx, {
        tenant: 'acme', kind: 'REMOTE_PUSH', entityType: 'BillingSubscription', entityId: sub.id, sourceSystem: 'BILLING', targetSystem: 'BILLING',
        correlationId: 'push-crash', idempotencyKey: `remote-push:${sub.id}:created`, payload: { change: 'CREATED' },
      });
      const [claimed] = await tx.query(`UPDATE sync.jobs SET state = 'RUNNING', attempts = 1, locked_by = 'dead-worker', locked_until = now() + interval '1 hour' WHERE id = $1 RETURNING *`, [id]);
      return claimed;
    });
    if (!row) throw new Error('no job');
    // The dying worker: Stripe creates the subscription, every answer is lost, the worker dies with the job RUNNING.
    fake.dropResponseNext(3);
    await expect(remotePushFlow(stack.sync.systems)(jobFromRow(row))).rejects.toThrow();
    fake.heal();
    expect(stripeSubs(sub.id)).toHaveLength(1);
    // Its lock runs out and a live worker runs the job again from the start.
    await stack.db.query(`UPDATE sync.jobs SET locked_until = now() - interval '1 second' WHERE id = $1`, [row['id']]);
    stack.sync.worker.wake();
    const [job] = await waitForSync(stack, 'acme', allPushed(sub.id, 1), 30_000);
    expect(job?.state).toBe('SUCCEEDED');
    expect(stripeSubs(sub.id)).toHaveLength(1);
    expect(stripeSubs(sub.id)[0]?.items.data.map((i) => i.quantity)).toEqual([5]);
    const posts = fake.log.filter((r) => r.method === 'POST' && r.path === '/v1/subscriptions' && r.idempotencyKey === `job:${row['id']}:subscription`);
    expect(posts[0]?.replayed).toBe(false);
    expect(posts.at(-1)?.replayed).toBe(true);
  });
});
