import { randomUUID } from 'node:crypto';
import { PermanentError } from '../../lib/connectors/errors';
import type { ChangePage } from '../../lib/connectors/remote';
import type { ErpRemote, RemoteInvoiceFields } from '../../subgraphs/erp/connector/remote-port';

/** One adapter under the contract, against its vendor (a fake over HTTP). */
export interface ErpRemoteUnderTest {
  remote: ErpRemote;
  /** Posts the invoice and pays it in full the way a user in the ERP's own UI would (not through the adapter). */
  postAndPayOutOfBand(invoiceRemoteId: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * What every `ErpRemote` must do for the sync engine, whatever the vendor (one suite, every adapter). `factory`
 * gives a fresh vendor each test. Amounts are compared in minor units: the ERP computes them from the lines.
 */
export function erpRemoteContract(name: string, factory: () => Promise<ErpRemoteUnderTest>): void {
  describe(`ErpRemote contract: ${name}`, () => {
    let t: ErpRemoteUnderTest;
    beforeEach(async () => {
      t = await factory();
    });
    afterEach(async () => {
      await t.close();
    });

    const usd = (amountMinor: string) => ({ amountMinor, currency: 'USD' });
    const customer = async (name = 'Acme') => t.remote.upsertCustomer({ canonicalId: randomUUID(), name, email: `${name.toLowerCase()}@example.com` });
    const draft = async (customerRemoteId: string, canonicalId = randomUUID()) => t.remote.createInvoice({
      canonicalId, customerRemoteId, currency: 'USD', issueDate: '2026-11-01', dueDate: '2026-12-01',
      lines: [{ description: 'Seats', quantity: 3, unitPriceMinor: '1250' }, { description: 'Setup', quantity: 1, unitPriceMinor: '9999' }],
    });

    it('checks access with one authenticated read', async () => {
      expect((await t.remote.checkAccess()).accountId).not.toBe('');
    });

    it('upserts customers by canonical id: a retry or a rename updates the one record', async () => {
      const canonicalId = randomUUID();
      const first = await t.remote.upsertCustomer({ canonicalId, name: 'Initech' });
      const renamed = await t.remote.upsertCustomer({ canonicalId, name: 'Initech Corp' });
      expect(renamed.remoteId).toBe(first.remoteId);
      expect(renamed.canonicalId).toBe(canonicalId);
      expect(renamed.fields.name).toBe('Initech Corp');
      expect(renamed.fields.creditLimit).toBeNull();
      const limited = await t.remote.setCreditLimit(first.remoteId, usd('500000'));
      expect(limited.fields.creditLimit).toEqual(usd('500000'));
    });

    it('creates a draft invoice once per canonical id, with amounts computed from its lines', async () => {
      const c = await customer();
      const canonicalId = randomUUID();
      const inv = await draft(c.remoteId, canonicalId);
      const again = await draft(c.remoteId, canonicalId);
      expect(again.remoteId).toBe(inv.remoteId);
      expect(inv.fields).toMatchObject({ customerRemoteId: c.remoteId, status: 'DRAFT', number: null, currency: 'USD', total: usd('13749'), amountDue: usd('0') });
      expect(inv.fields.lines).toEqual([
        { description: 'Seats', quantity: 3, unitPrice: usd('1250'), amount: usd('3750') },
        { description: 'Setup', quantity: 1, unitPrice: usd('9999'), amount: usd('9999') },
      ]);
      expect(inv.remoteData).toBeDefined();
    });

    it('posts once: posting a posted invoice is a no-op', async () => {
      const inv = await draft((await customer()).remoteId);
      const posted = await t.remote.postInvoice(inv.remoteId);
      expect(posted.fields).toMatchObject({ status: 'POSTED', amountDue: usd('13749') });
      expect(posted.fields.number).toBeTruthy();
      const again = await t.remote.postInvoice(inv.remoteId);
      expect(again.fields.number).toBe(posted.fields.number);
    });

    it('reconciles payments with invoices: partial, then paid; a retried payment is the same payment', async () => {
      const c = await customer();
      const inv = await t.remote.postInvoice((await draft(c.remoteId)).remoteId);
      const paymentId = randomUUID();
      const part = await t.remote.recordPayment({ canonicalId: paymentId, customerRemoteId: c.remoteId, amount: usd('3749'), date: '2026-11-15', invoiceRemoteIds: [inv.remoteId] });
      const retried = await t.remote.recordPayment({ canonicalId: paymentId, customerRemoteId: c.remoteId, amount: usd('3749'), date: '2026-11-15', invoiceRemoteIds: [inv.remoteId] });
      expect(retried.remoteId).toBe(part.remoteId);
      expect(part.fields).toMatchObject({ customerRemoteId: c.remoteId, amount: usd('3749'), state: 'POSTED', invoiceRemoteIds: [inv.remoteId] });
      expect((await t.remote.get('invoice', [inv.remoteId]))[0]!.fields).toMatchObject({ status: 'POSTED', amountDue: usd('10000') });
      await t.remote.recordPayment({ canonicalId: randomUUID(), customerRemoteId: c.remoteId, amount: usd('10000'), date: '2026-11-20', invoiceRemoteIds: [inv.remoteId] });
      expect((await t.remote.get('invoice', [inv.remoteId]))[0]!.fields).toMatchObject({ status: 'PAID', amountDue: usd('0') });
    });

    it('cancels drafts and unpaid posted invoices, idempotently; a paid invoice cannot be cancelled', async () => {
      const c = await customer();
      const a = await draft(c.remoteId);
      expect((await t.remote.cancelInvoice(a.remoteId)).fields.status).toBe('VOID');
      expect((await t.remote.cancelInvoice(a.remoteId)).fields.status).toBe('VOID');
      const b = await t.remote.postInvoice((await draft(c.remoteId)).remoteId);
      expect((await t.remote.cancelInvoice(b.remoteId)).fields.status).toBe('VOID');
      const paid = await t.remote.postInvoice((await draft(c.remoteId)).remoteId);
      await t.remote.recordPayment({ canonicalId: randomUUID(), customerRemoteId: c.remoteId, amount: usd('13749'), date: '2026-11-20', invoiceRemoteIds: [paid.remoteId] });
      await expect(t.remote.cancelInvoice(paid.remoteId)).rejects.toBeInstanceOf(PermanentError);
      await expect(t.remote.postInvoice(a.remoteId)).rejects.toBeInstanceOf(PermanentError);
    });

    it('leaves ids it does not know out of a read', async () => {
      const c = await customer();
      expect((await t.remote.get('customer', [c.remoteId, '987654'])).map((r) => r.remoteId)).toEqual([c.remoteId]);
    });

    it('polls every change through the cursor (a re-read page changes nothing) and sees changes made in the ERP', async () => {
      const c = await customer();
      const made: Awaited<ReturnType<typeof draft>>[] = [];
      for (let i = 0; i < 5; i++) made.push(await draft(c.remoteId));
      const seen = new Map<string, string>();
      let cursor: string | null = null;
      let pages = 0;
      for (;;) {
        const page: ChangePage<RemoteInvoiceFields> = await t.remote.changes('invoice', cursor, 2);
        const again = await t.remote.changes('invoice', cursor, 2);
        expect(again.records.map((r) => r.remoteId)).toEqual(page.records.map((r) => r.remoteId));
        page.records.forEach((r) => seen.set(r.remoteId, r.fields.status));
        cursor = page.cursor;
        pages += 1;
        if (!page.hasMore) break;
        expect(pages).toBeLessThan(10);
      }
      expect(pages).toBeGreaterThanOrEqual(3);
      expect([...seen.keys()].sort()).toEqual(made.map((m) => m.remoteId).sort());

      await t.postAndPayOutOfBand(made[1]!.remoteId);
      const after = await t.remote.changes('invoice', cursor, 50);
      expect(after.records.find((r) => r.remoteId === made[1]!.remoteId)?.fields).toMatchObject({ status: 'PAID', amountDue: usd('0') });
      const payments = await t.remote.changes('payment', null, 50);
      expect(payments.records.map((p) => p.fields.invoiceRemoteIds)).toEqual([[made[1]!.remoteId]]);
    });
  });
}
