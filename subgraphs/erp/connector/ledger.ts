import type { NewInvoiceLine } from './models';

/** Chart of accounts codes the subgraph posts to. */
export const GL = { cash: '1000', receivable: '1100', taxPayable: '2200', revenue: '4000' } as const;

/** Invoice numbers as customers see them: INV-000001, counted per tenant. */
export function invoiceNumber(n: number): string {
  return `INV-${String(n).padStart(6, '0')}`;
}

/** Largest amount a Postgres bigint column holds. */
export const MAX_MINOR = 9_223_372_036_854_775_807n;

/** Lines as stored in `erp.invoices.lines`: amounts are minor-unit strings in the invoice currency. */
export interface StoredLine {
  description: string;
  quantity: number;
  unitPriceMinor: string;
  amountMinor: string;
}

export interface InvoiceTotals {
  lines: StoredLine[];
  subtotal: bigint;
  tax: bigint;
  total: bigint;
}

/** Line amounts, subtotal and tax in integer minor units; tax rounds half up (amounts are never negative). */
export function invoiceTotals(lines: readonly NewInvoiceLine[], taxRateBps: number): InvoiceTotals {
  const stored = lines.map((l) => ({
    description: l.description, quantity: l.quantity, unitPriceMinor: l.unitPriceMinor,
    amountMinor: (BigInt(l.quantity) * BigInt(l.unitPriceMinor)).toString(),
  }));
  const subtotal = stored.reduce((sum, l) => sum + BigInt(l.amountMinor), 0n);
  const tax = (subtotal * BigInt(taxRateBps) + 5_000n) / 10_000n;
  return { lines: stored, subtotal, tax, total: subtotal + tax };
}

/** Splits a payment over invoices in the given order; what is left over stays unapplied on the account. */
export function allocate(amount: bigint, invoices: readonly { id: string; amountDue: bigint }[]): { invoiceId: string; amount: bigint }[] {
  const applied: { invoiceId: string; amount: bigint }[] = [];
  let left = amount;
  for (const invoice of invoices) {
    if (left === 0n) break;
    const take = invoice.amountDue < left ? invoice.amountDue : left;
    if (take > 0n) applied.push({ invoiceId: invoice.id, amount: take });
    left -= take;
  }
  return applied;
}

export interface JournalLineDraft {
  accountCode: string;
  debit: bigint;
  credit: bigint;
}

export interface JournalDraft {
  memo: string;
  sourceType: 'INVOICE' | 'INVOICE_VOID' | 'PAYMENT';
  sourceId: string;
  currency: string;
  /** Lines with a zero amount are left out (a tax-free invoice has no tax line). */
  lines: JournalLineDraft[];
}

interface PostedAmounts {
  id: string;
  number: string;
  currency: string;
  subtotal: bigint;
  tax: bigint;
  total: bigint;
}

const debit = (accountCode: string, amount: bigint): JournalLineDraft => ({ accountCode, debit: amount, credit: 0n });
const credit = (accountCode: string, amount: bigint): JournalLineDraft => ({ accountCode, debit: 0n, credit: amount });
const nonZero = (lines: JournalLineDraft[]) => lines.filter((l) => l.debit !== 0n || l.credit !== 0n);

/** Posting an invoice: the customer owes the total, revenue and tax payable are recognised. */
export function invoicePosting(inv: PostedAmounts): JournalDraft {
  return {
    memo: `Invoice ${inv.number} posted`, sourceType: 'INVOICE', sourceId: inv.id, currency: inv.currency,
    lines: nonZero([debit(GL.receivable, inv.total), credit(GL.revenue, inv.subtotal), credit(GL.taxPayable, inv.tax)]),
  };
}

/** Voiding a posted invoice: the exact mirror of its posting. */
export function invoiceReversal(inv: PostedAmounts): JournalDraft {
  return {
    memo: `Invoice ${inv.number} voided`, sourceType: 'INVOICE_VOID', sourceId: inv.id, currency: inv.currency,
    lines: invoicePosting(inv).lines.map((l) => ({ accountCode: l.accountCode, debit: l.credit, credit: l.debit })),
  };
}

/** Cash received reduces receivables (an unapplied remainder leaves the account in credit). */
export function paymentReceipt(payment: { id: string; currency: string; amount: bigint }): JournalDraft {
  return {
    memo: `Payment ${payment.id} received`, sourceType: 'PAYMENT', sourceId: payment.id, currency: payment.currency,
    lines: nonZero([debit(GL.cash, payment.amount), credit(GL.receivable, payment.amount)]),
  };
}
