import { randomUUID } from 'node:crypto';
import { AuthError, PermanentError, TransientError } from '../lib/connectors/errors';
import { directOutbound } from '../lib/connectors/outbound';
import { OdooFake } from '../fakes/odoo/server';
import { OdooErpRemote } from '../subgraphs/erp/connector/odoo/adapter';
import { erpRemoteContract } from './contracts/erp-remote.contract';

async function start() {
  const fake = new OdooFake({ db: 'acme', login: 'api@acme.example', apiKey: 'key-1' });
  const url = await fake.start();
  const remote = new OdooErpRemote({ credentials: { apiKey: 'key-1' }, settings: { url, db: 'acme', login: 'api@acme.example' }, outbound: directOutbound });
  return { fake, remote };
}

/** What an accountant does in Odoo's UI: post the invoice, then register its payment in full. */
function postAndPay(fake: OdooFake, invoiceId: number, amount?: number): void {
  if (fake.row('account.move', invoiceId)!['state'] === 'draft') fake.execute('account.move', 'action_post', [[invoiceId]]);
  const context = { active_model: 'account.move', active_ids: [invoiceId] };
  const wizard = fake.execute('account.payment.register', 'create', [amount === undefined ? {} : { amount }], { context }) as number;
  fake.execute('account.payment.register', 'action_create_payments', [[wizard]], { context });
}

erpRemoteContract('Odoo (fake over JSON-RPC)', async () => {
  const { fake, remote } = await start();
  return { remote, postAndPayOutOfBand: async (id) => postAndPay(fake, Number(id)), close: () => fake.stop() };
});

describe('Odoo ERP adapter', () => {
  let fake: OdooFake;
  let remote: OdooErpRemote;
  beforeEach(async () => {
    ({ fake, remote } = await start());
  });
  afterEach(() => fake.stop());

  it('speaks JSON-RPC: authenticate once, then execute_kw with db, uid and the API key', async () => {
    await remote.upsertCustomer({ canonicalId: randomUUID(), name: 'Acme' });
    const calls = fake.log.map((r) => JSON.parse(r.body) as { jsonrpc: string; method: string; params: { service: string; method: string; args: unknown[] } });
    expect(calls.every((c) => c.jsonrpc === '2.0' && c.method === 'call')).toBe(true);
    expect(calls.filter((c) => c.params.method === 'authenticate')).toHaveLength(1);
    expect(calls[0]!.params).toEqual({ service: 'common', method: 'authenticate', args: ['acme', 'api@acme.example', 'key-1', {}] });
    expect(calls[1]!.params.args.slice(0, 5)).toEqual(['acme', 2, 'key-1', 'res.partner', 'search']);
    expect(fake.log.every((r) => r.method === 'POST' && r.path === '/jsonrpc')).toBe(true);
  });

  it('keeps the canonical id in ref and marks the partner a customer', async () => {
    const canonicalId = randomUUID();
    const c = await remote.upsertCustomer({ canonicalId, name: 'Acme', email: 'ap@acme.example' });
    expect(fake.row('res.partner', Number(c.remoteId))).toMatchObject({ ref: canonicalId, name: 'Acme', email: 'ap@acme.example', customer_rank: 1 });
    expect(c.remoteData).toMatchObject({ id: Number(c.remoteId), ref: canonicalId });
  });

  it('posts balanced entries: the receivable line debits what the income lines credit', async () => {
    const c = await remote.upsertCustomer({ canonicalId: randomUUID(), name: 'Acme' });
    const inv = await remote.createInvoice({ canonicalId: randomUUID(), customerRemoteId: c.remoteId, currency: 'EUR', lines: [{ description: 'A', quantity: 2, unitPriceMinor: '1005' }] });
    await remote.postInvoice(inv.remoteId);
    const move = fake.row('account.move', Number(inv.remoteId))!;
    const lines = (move['line_ids'] as number[]).map((id) => fake.row('account.move.line', id)!);
    const sum = (k: string) => lines.reduce((s, l) => s + Number(l[k]), 0);
    expect(sum('debit')).toBeCloseTo(20.1, 9);
    expect(sum('credit')).toBeCloseTo(20.1, 9);
    expect(move).toMatchObject({ state: 'posted', payment_state: 'not_paid', amount_residual: 20.1 });
  });

  it('refuses a ledger rule Odoo refuses (posting without lines) as a PermanentError with Odoo\'s exception', async () => {
    const c = await remote.upsertCustomer({ canonicalId: randomUUID(), name: 'Acme' });
    const inv = await remote.createInvoice({ canonicalId: randomUUID(), customerRemoteId: c.remoteId, currency: 'USD', lines: [] });
    const err = await remote.postInvoice(inv.remoteId).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermanentError);
    expect(err).toMatchObject({ code: 'ODOO_USER_ERROR' });
    expect(String((err as Error).message)).toContain('add a line');
  });

  it('spreads one payment over several invoices, oldest due first', async () => {
    const c = await remote.upsertCustomer({ canonicalId: randomUUID(), name: 'Acme' });
    const make = async (due: string) => remote.postInvoice((await remote.createInvoice({
      canonicalId: randomUUID(), customerRemoteId: c.remoteId, currency: 'USD', dueDate: due, lines: [{ description: 'x', quantity: 1, unitPriceMinor: '10000' }],
    })).remoteId);
    const later = await make('2026-12-31');
    const earlier = await make('2026-12-01');
    const payment = await remote.recordPayment({ canonicalId: randomUUID(), customerRemoteId: c.remoteId, amount: { amountMinor: '15000', currency: 'USD' }, date: '2026-12-01', invoiceRemoteIds: [later.remoteId, earlier.remoteId] });
    expect(payment.fields.invoiceRemoteIds.sort()).toEqual([earlier.remoteId, later.remoteId].sort());
    const read = await remote.get('invoice', [earlier.remoteId, later.remoteId]);
    const a = read.find((r) => r.remoteId === earlier.remoteId);
    const b = read.find((r) => r.remoteId === later.remoteId);
    expect([a!.fields.status, a!.fields.amountDue.amountMinor]).toEqual(['PAID', '0']);
    expect([b!.fields.status, b!.fields.amountDue.amountMinor]).toEqual(['POSTED', '5000']);
  });

  it('pages through records sharing one write_date second without a gap or a repeat', async () => {
    fake.now = () => new Date('2026-12-01T10:00:00Z');
    const ids = [];
    for (let i = 0; i < 7; i++) ids.push((await remote.upsertCustomer({ canonicalId: randomUUID(), name: `C${i}` })).remoteId);
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let i = 0; i < 10; i++) {
      const page: Awaited<ReturnType<typeof remote.changes<'customer'>>> = await remote.changes('customer', cursor, 3);
      seen.push(...page.records.map((r) => r.remoteId));
      cursor = page.cursor;
      if (!page.hasMore) break;
    }
    expect(seen).toEqual(ids);
  });

  it('re-reads the overlap window once caught up, so a record committed late with an older write_date is not missed', async () => {
    fake.now = () => new Date('2026-12-01T10:00:00Z');
    await remote.upsertCustomer({ canonicalId: randomUUID(), name: 'First' });
    fake.now = () => new Date('2026-12-01T10:02:00Z');
    await remote.upsertCustomer({ canonicalId: randomUUID(), name: 'Second' });
    const caughtUp = await remote.changes('customer', null, 50);
    expect(caughtUp.hasMore).toBe(false);
    // A transaction that started at 10:01 commits now: its write_date is older than the last record we read.
    fake.now = () => new Date('2026-12-01T10:01:00Z');
    const late = await remote.upsertCustomer({ canonicalId: randomUUID(), name: 'Late' });
    const next = await remote.changes('customer', caughtUp.cursor, 50);
    expect(next.records.map((r) => r.remoteId)).toContain(late.remoteId);
  });

  describe('errors onto the engine classes', () => {
    const read = () => remote.get('customer', ['1']);
    it('5xx from the proxy -> TransientError', async () => {
      fake.faults.failNext = [503];
      await expect(read()).rejects.toBeInstanceOf(TransientError);
    });
    it('429 -> TransientError with Retry-After', async () => {
      fake.faults.failNext = [429];
      await expect(read()).rejects.toMatchObject({ code: 'RATE_LIMITED', retryAfterMs: 2000 });
    });
    it('a refused API key at authenticate -> AuthError', async () => {
      fake.faults.revoked = true;
      await expect(read()).rejects.toBeInstanceOf(AuthError);
      await expect(remote.checkAccess()).rejects.toBeInstanceOf(AuthError);
    });
    it('a key revoked after authentication -> AuthError from execute_kw (AccessDenied)', async () => {
      await read();
      fake.apiKey = 'rotated';
      const err = await read().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AuthError);
      expect(String((err as Error).message)).toContain('Access Denied');
    });
    it('missing access rights on a model -> AuthError (AccessError)', async () => {
      fake.deniedModels.add('res.partner');
      await expect(read()).rejects.toBeInstanceOf(AuthError);
    });
    it('timeouts surface through the Outbound signal', async () => {
      fake.faults.latencyMs = 500;
      const timed = new OdooErpRemote({
        credentials: { apiKey: 'key-1' }, settings: { url: fake.url, db: 'acme', login: 'api@acme.example' },
        outbound: { call: (_op, fn) => fn(AbortSignal.timeout(50)) },
      });
      await expect(timed.get('customer', ['1'])).rejects.toBeInstanceOf(TransientError);
    });
  });
});
