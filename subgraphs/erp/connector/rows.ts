import type { Row } from '../../../lib/db/db';
import { iso, str, strOrNull } from '../../../lib/db/rows';
import { money } from '../../../lib/money';
import type { StoredLine } from './ledger';
import type {
  CreditStatus, FinanceAccountModel, InvoiceModel, InvoiceStatus, JournalEntryModel, PaymentApplicationModel, PaymentModel,
} from './models';

/** A customer with its balance, from `source` aliased `c`: one statement whatever the number of accounts. */
export function customerSelect(source: string): string {
  return `SELECT c.id, c.name, c.currency, c.credit_limit_minor, c.credit_status,
    (SELECT coalesce(sum(i.amount_due_minor), 0) FROM erp.invoices i
      WHERE i.tenant_id = c.tenant_id AND i.account_id = c.id AND i.status = 'POSTED') AS balance_minor
    FROM ${source} c`;
}

export const INVOICE_COLS =
  'id, account_id, remote_id, number, status, currency, issue_date, due_date, subtotal_minor, tax_minor, total_minor, amount_due_minor, lines, void_reason, created_at, updated_at';
export const PAYMENT_COLS = 'id, account_id, remote_id, amount_minor, currency, method, reference, received_at, updated_at';
/** Lines come with their entry (json keeps bigints exact as text). Needs the entries table aliased `e`. */
export const JOURNAL_COLS = `id, posted_at, memo, source_type, source_id, currency,
  (SELECT json_agg(json_build_object('accountCode', l.account_code, 'debitMinor', l.debit_minor::text, 'creditMinor', l.credit_minor::text)
     ORDER BY l.line_no) FROM erp.journal_lines l WHERE l.tenant_id = e.tenant_id AND l.entry_id = e.id) AS lines`;
export const APPLICATION_SELECT = `SELECT a.payment_id, a.invoice_id, a.amount_minor, i.currency
  FROM erp.payment_applications a JOIN erp.invoices i ON i.tenant_id = a.tenant_id AND i.id = a.invoice_id`;

export function financeAccount(r: Row): FinanceAccountModel {
  const currency = str(r['currency']);
  return {
    id: str(r['id']), name: str(r['name']), currency, creditLimit: money(str(r['credit_limit_minor']), currency),
    creditStatus: str(r['credit_status']) as CreditStatus, balance: money(str(r['balance_minor']), currency),
  };
}

export function invoice(r: Row): InvoiceModel {
  const currency = str(r['currency']);
  const amount = (col: string) => money(str(r[col]), currency);
  return {
    id: str(r['id']), accountId: str(r['account_id']), remoteId: str(r['remote_id']), number: str(r['number']),
    status: str(r['status']) as InvoiceStatus, currency, issueDate: strOrNull(r['issue_date']), dueDate: strOrNull(r['due_date']),
    lines: (r['lines'] as StoredLine[]).map((l) => ({
      description: l.description, quantity: l.quantity, unitPrice: money(l.unitPriceMinor, currency), amount: money(l.amountMinor, currency),
    })),
    subtotal: amount('subtotal_minor'), tax: amount('tax_minor'), total: amount('total_minor'), amountDue: amount('amount_due_minor'),
    voidReason: strOrNull(r['void_reason']), createdAt: iso(r['created_at']), updatedAt: iso(r['updated_at']),
  };
}

export function payment(r: Row): PaymentModel {
  return {
    id: str(r['id']), accountId: str(r['account_id']), remoteId: str(r['remote_id']),
    amount: money(str(r['amount_minor']), str(r['currency'])), method: str(r['method']), reference: strOrNull(r['reference']),
    receivedAt: iso(r['received_at']), updatedAt: iso(r['updated_at']),
  };
}

export function application(r: Row): PaymentApplicationModel {
  return { paymentId: str(r['payment_id']), invoiceId: str(r['invoice_id']), amount: money(str(r['amount_minor']), str(r['currency'])) };
}

export function journalEntry(r: Row): JournalEntryModel {
  const currency = str(r['currency']);
  const lines = (r['lines'] as { accountCode: string; debitMinor: string; creditMinor: string }[] | null) ?? [];
  return {
    id: str(r['id']), postedAt: iso(r['posted_at']), memo: str(r['memo']), sourceType: str(r['source_type']), sourceId: str(r['source_id']),
    lines: lines.map((l) => ({ accountCode: l.accountCode, debit: money(l.debitMinor, currency), credit: money(l.creditMinor, currency) })),
  };
}
