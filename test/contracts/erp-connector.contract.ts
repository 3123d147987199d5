import { randomUUID } from 'node:crypto';
import { idPage } from '../../lib/pagination';
import { MissingRecord, RuleViolation } from '../../subgraphs/erp/connector/errors';
import type { ErpConnector } from '../../subgraphs/erp/connector/port';

/** The company currency of the ERPs under test (Odoo keeps credit limits in it). */
const CURRENCY = 'USD';

/** What an ERP port's test gives the contract: the port bound to one tenant, and its end. */
export interface ErpConnectorHarness {
  erp: ErpConnector;
  close(): Promise<void>;
}

/**
 * The behaviour every implementation of the ERP port (`ErpConnector`) must have, written against the port only: the
 * reference store and the mirror + vendor port (Odoo) run the same suite, as the sync engine calls them (every write
 * carries our id). Ids are unique per run.
 */
export function erpConnectorContract(name: string, factory: () => Promise<ErpConnectorHarness>): void {
  describe(`ErpConnector contract: ${name}`, () => {
    let harness: ErpConnectorHarness;
    let erp: ErpConnector;
    const run = randomUUID().slice(0, 8);
    const id = (prefix: string) => `${prefix}_${run}_${randomUUID().slice(0, 8)}`;
    const customer = async (label: string) => {
      const accountId = id('acc');
      await erp.upsertCustomer({ id: accountId, name: label, currency: CURRENCY });
      return accountId;
    };
    const invoice = (accountId: string, unitPriceMinor = '10000', quantity = 1) =>
      erp.createInvoice({ id: id('inv'), accountId, currency: CURRENCY, lines: [{ description: 'Service', quantity, unitPriceMinor }], taxRateBps: 0, dueInDays: 30 });
    const pay = (accountId: string, amountMinor: string, invoiceIds: string[]) =>
      erp.recordPayment({ id: id('pay'), accountId, amount: { amountMinor, currency: CURRENCY }, method: 'transfer', reference: null, invoiceIds });
    const refusal = async (write: Promise<unknown>) => write.then(() => null, (e: unknown) => e);

    beforeAll(async () => {
      harness = await factory();
      erp = harness.erp;
    });
    afterAll(() => harness.close());

    it('creates a customer once and renames it in place; its finance fields start empty of money', async () => {
      const accountId = await customer('Contract Co');
      const first = await erp.accountsByIds([accountId]);
      expect(first).toEqual([expect.objectContaining({ id: accountId, name: 'Contract Co', currency: CURRENCY })]);
      expect(first[0]?.balance?.amountMinor).toBe('0');
      const again = await erp.upsertCustomer({ id: accountId, name: 'Contract Co Renamed', currency: CURRENCY });
      const renamed = await erp.upsertCustomer({ id: accountId, name: 'Contract Co Renamed', currency: CURRENCY });
      expect(renamed.remoteId).toBe(again.remoteId);
      expect((await erp.accountsByIds([accountId]))[0]?.name).toBe('Contract Co Renamed');
      expect(await erp.accountsByIds([id('acc')])).toEqual([]);
    });

    it('creates a DRAFT invoice idempotently by its id, amounts computed from the lines', async () => {
      const accountId = await customer('Draft Co');
      const input = { id: id('inv'), accountId, currency: CURRENCY, lines: [{ description: 'Seats', quantity: 3, unitPriceMinor: '2500' }], taxRateBps: 0, dueInDays: 30 };
      const draft = await erp.createInvoice(input);
      expect(draft).toMatchObject({ id: input.id, accountId, status: 'DRAFT', currency: CURRENCY, issueDate: null, total: { amountMinor: '7500', currency: CURRENCY } });
      expect(draft.lines.map((l) => [l.description, l.quantity, l.amount.amountMinor])).toEqual([['Seats', 3, '7500']]);
      const retried = await erp.createInvoice(input);
      expect(retried.id).toBe(draft.id);
      expect(retried.number).toBe(draft.number);
      expect((await erp.listInvoices({ accountId }, idPage(10, null))).map((i) => i.id)).toEqual([draft.id]);
    });

    it('posts an invoice with dates and a balanced journal entry, and raises the balance by its total', async () => {
      const accountId = await customer('Post Co');
      const draft = await invoice(accountId, '12345');
      const posted = await erp.postInvoice(draft.id);
      expect(posted).toMatchObject({ id: draft.id, status: 'POSTED', amountDue: { amountMinor: '12345' } });
      expect(posted.issueDate).toMatch(/^\d{4}-\d{2}-\d{2}/);
      expect(posted.dueDate).toMatch(/^\d{4}-\d{2}-\d{2}/);
      const entries = await erp.listJournalEntries({ sourceId: draft.id }, idPage(10, null));
      expect(entries).toHaveLength(1);
      const sum = (k: 'debit' | 'credit') => (entries[0]?.lines ?? []).reduce((s, l) => s + BigInt(l[k].amountMinor), 0n);
      expect(sum('debit')).toBe(12345n);
      expect(sum('credit')).toBe(12345n);
      expect((await erp.accountsByIds([accountId]))[0]?.balance?.amountMinor).toBe('12345');
      expect(await refusal(erp.postInvoice(draft.id))).toBeInstanceOf(RuleViolation);
    });

    it('applies payments in parts: the amount due falls, the last part makes it PAID; more than due leaves the rest unapplied; a closed invoice takes no payment', async () => {
      const accountId = await customer('Pay Co');
      const inv = await erp.postInvoice((await invoice(accountId, '9000')).id);
      const part = await pay(accountId, '4000', [inv.id]);
      expect(part.amount).toEqual({ amountMinor: '4000', currency: CURRENCY });
      expect((await erp.invoicesByIds([inv.id]))[0]).toMatchObject({ status: 'POSTED', amountDue: { amountMinor: '5000' } });
      expect((await erp.applicationsByPayments([part.id])).map((a) => [a.invoiceId, a.amount.amountMinor])).toEqual([[inv.id, '4000']]);
      await pay(accountId, '5000', [inv.id]);
      expect((await erp.invoicesByIds([inv.id]))[0]).toMatchObject({ status: 'PAID', amountDue: { amountMinor: '0' } });
      expect((await erp.applicationsByInvoices([inv.id])).map((a) => a.amount.amountMinor).sort()).toEqual(['4000', '5000']);
      expect((await erp.accountsByIds([accountId]))[0]?.balance?.amountMinor).toBe('0');

      // More than is due: the invoice is settled, the rest stays on the account unapplied.
      const other = await erp.postInvoice((await invoice(accountId, '1000')).id);
      const over = await pay(accountId, '1500', [other.id]);
      expect((await erp.applicationsByPayments([over.id])).map((a) => a.amount.amountMinor)).toEqual(['1000']);
      expect((await erp.invoicesByIds([other.id]))[0]).toMatchObject({ status: 'PAID', amountDue: { amountMinor: '0' } });
      // A payment naming an invoice that is no longer open is refused, and changes nothing.
      expect(await refusal(pay(accountId, '10', [inv.id]))).toBeInstanceOf(RuleViolation);
      expect((await erp.applicationsByInvoices([inv.id])).length).toBe(2);
    });

    it('voids a draft or an unpaid posted invoice (reversing its entry), never a paid one', async () => {
      const accountId = await customer('Void Co');
      const draft = await invoice(accountId);
      expect((await erp.voidInvoice(draft.id, 'duplicate')).status).toBe('VOID');
      const posted = await erp.postInvoice((await invoice(accountId, '3000')).id);
      const voided = await erp.voidInvoice(posted.id, 'wrong customer');
      expect(voided).toMatchObject({ status: 'VOID', voidReason: 'wrong customer' });
      expect((await erp.accountsByIds([accountId]))[0]?.balance?.amountMinor).toBe('0');
      const paid = await erp.postInvoice((await invoice(accountId, '2000')).id);
      await pay(accountId, '2000', [paid.id]);
      expect(await refusal(erp.voidInvoice(paid.id, 'too late'))).toBeInstanceOf(RuleViolation);
    });

    it('sets a credit limit and status on a customer', async () => {
      const accountId = await customer('Credit Co');
      const account = await erp.setCreditLimit(accountId, { amountMinor: '500000', currency: CURRENCY }, 'ON_HOLD');
      expect(account).toMatchObject({ id: accountId, creditLimit: { amountMinor: '500000', currency: CURRENCY }, creditStatus: 'ON_HOLD' });
      expect((await erp.accountsByIds([accountId]))[0]?.creditLimit?.amountMinor).toBe('500000');
    });

    it('names the missing record when a write refers to an invoice or account that does not exist', async () => {
      expect(await refusal(erp.postInvoice(id('inv')))).toBeInstanceOf(MissingRecord);
      expect(await refusal(erp.voidInvoice(id('inv'), 'none'))).toBeInstanceOf(MissingRecord);
      expect(await refusal(erp.setCreditLimit(id('acc'), { amountMinor: '1', currency: CURRENCY }, null))).toBeInstanceOf(MissingRecord);
    });
  });
}
