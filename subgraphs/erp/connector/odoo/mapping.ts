import { decimalToMoney } from '../../../../lib/connectors/decimal-money';
import type { Money } from '../../../../lib/money';
import type { InvoiceStatus } from '../models';
import type { RemoteCustomerFields, RemoteInvoiceFields, RemoteInvoiceLine, RemotePaymentFields } from '../remote-port';
import type { OdooJson } from './json-rpc';

export type OdooRecord = { id: number; write_date: string } & Record<string, OdooJson>;

/** Fields read per model: what the mapping needs, plus `write_date` for the cursor and `ref` for our id. */
export const FIELDS = {
  customer: ['name', 'email', 'ref', 'credit_limit', 'write_date'],
  invoice: ['name', 'ref', 'partner_id', 'state', 'payment_state', 'currency_id', 'invoice_date', 'invoice_date_due', 'invoice_line_ids',
    'amount_untaxed', 'amount_tax', 'amount_total', 'amount_residual', 'write_date'],
  payment: ['name', 'ref', 'partner_id', 'amount', 'currency_id', 'date', 'state', 'reconciled_invoice_ids', 'write_date'],
  line: ['name', 'quantity', 'price_unit', 'price_subtotal'],
} as const;

/** Odoo answers `false` for an empty field. */
export const text = (v: OdooJson | undefined): string | null => (typeof v === 'string' && v !== '' ? v : null);
/** A many2one is `[id, display_name]` or `false`. */
export const m2oId = (v: OdooJson | undefined): string | null => (Array.isArray(v) && typeof v[0] === 'number' ? String(v[0]) : null);
const m2oName = (v: OdooJson | undefined): string => (Array.isArray(v) && typeof v[1] === 'string' ? v[1] : '');
const ids = (v: OdooJson | undefined): string[] => (Array.isArray(v) ? v.filter((x): x is number => typeof x === 'number').map(String) : []);
const amount = (v: OdooJson | undefined, currency: string): Money => decimalToMoney(typeof v === 'number' ? v : 0, currency);

/** `write_date` ("2026-12-01 16:31:03", UTC) as ISO-8601. */
export const odooInstant = (v: string): string => `${v.replace(' ', 'T')}Z`;

export function customerFields(r: OdooRecord, companyCurrency: string): RemoteCustomerFields {
  const limit = typeof r['credit_limit'] === 'number' ? r['credit_limit'] : 0;
  return { name: text(r['name']) ?? '', email: text(r['email']), creditLimit: limit > 0 ? amount(limit, companyCurrency) : null };
}

/** Posted and fully paid (or paid and awaiting the bank statement, `in_payment`) is PAID to us. */
function invoiceStatus(r: OdooRecord): InvoiceStatus {
  if (r['state'] === 'cancel') return 'VOID';
  if (r['state'] === 'draft') return 'DRAFT';
  return r['payment_state'] === 'paid' || r['payment_state'] === 'in_payment' || r['payment_state'] === 'reversed' ? 'PAID' : 'POSTED';
}

export function invoiceFields(r: OdooRecord, lines: ReadonlyMap<number, OdooRecord>): RemoteInvoiceFields {
  const currency = m2oName(r['currency_id']);
  const name = text(r['name']);
  return {
    customerRemoteId: m2oId(r['partner_id']) ?? '',
    number: name === '/' ? null : name,
    status: invoiceStatus(r),
    currency,
    issueDate: text(r['invoice_date']),
    dueDate: text(r['invoice_date_due']),
    lines: ids(r['invoice_line_ids']).flatMap((id): RemoteInvoiceLine[] => {
      const line = lines.get(Number(id));
      return line ? [{
        description: text(line['name']) ?? '',
        quantity: Number(line['quantity']),
        unitPrice: amount(line['price_unit'], currency),
        amount: amount(line['price_subtotal'], currency),
      }] : [];
    }),
    subtotal: amount(r['amount_untaxed'], currency),
    tax: amount(r['amount_tax'], currency),
    total: amount(r['amount_total'], currency),
    // A draft owes nothing yet; Odoo keeps its residual at the total.
    amountDue: r['state'] === 'posted' ? amount(r['amount_residual'], currency) : amount(0, currency),
  };
}

export function paymentFields(r: OdooRecord): RemotePaymentFields {
  // Odoo 18 splits "posted" into in_process and paid; all three are a payment that happened.
  const state = r['state'] === 'draft' ? 'DRAFT' : r['state'] === 'cancel' || r['state'] === 'canceled' ? 'CANCELLED' : 'POSTED';
  return {
    customerRemoteId: m2oId(r['partner_id']) ?? '',
    amount: amount(r['amount'], m2oName(r['currency_id'])),
    date: text(r['date']) ?? '',
    state,
    invoiceRemoteIds: ids(r['reconciled_invoice_ids']),
  };
}
