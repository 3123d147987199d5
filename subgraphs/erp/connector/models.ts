import type { Money } from '../../../lib/money';

export type CreditStatus = 'OK' | 'ON_HOLD' | 'BLOCKED';
export type InvoiceStatus = 'DRAFT' | 'POSTED' | 'PAID' | 'VOID';

export interface ExternalRefModel {
  system: 'CRM' | 'ERP' | 'BILLING';
  remoteId: string;
  remoteUpdatedAt: string | null;
}

/** The finance view of an account. Finance fields are null while the account is not (yet) an ERP customer. */
export interface FinanceAccountModel {
  id: string;
  /** The customer name as the ERP holds it (CRM owns it; reconciliation compares the two). */
  name: string | null;
  currency: string | null;
  creditLimit: Money | null;
  creditStatus: CreditStatus | null;
  /** Amount due over POSTED invoices. */
  balance: Money | null;
}

/**
 * An account the ERP has no customer for (not synced yet, or not this tenant's): no finance data and empty lists,
 * so an account-360 list keeps its CRM fields instead of the gateway nulling the whole entity.
 */
export function notACustomer(id: string): FinanceAccountModel {
  return { id, name: null, currency: null, creditLimit: null, creditStatus: null, balance: null };
}

export interface InvoiceLineModel {
  description: string;
  quantity: number;
  unitPrice: Money;
  amount: Money;
}

export interface InvoiceModel {
  id: string;
  accountId: string;
  remoteId: string;
  number: string;
  status: InvoiceStatus;
  currency: string;
  issueDate: string | null;
  dueDate: string | null;
  lines: InvoiceLineModel[];
  subtotal: Money;
  tax: Money;
  total: Money;
  amountDue: Money;
  voidReason: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface PaymentModel {
  id: string;
  accountId: string;
  remoteId: string;
  amount: Money;
  method: string;
  reference: string | null;
  receivedAt: string;
  updatedAt: string;
}

export interface PaymentApplicationModel {
  paymentId: string;
  invoiceId: string;
  amount: Money;
}

export interface JournalLineModel {
  accountCode: string;
  debit: Money;
  credit: Money;
}

export interface JournalEntryModel {
  id: string;
  postedAt: string;
  memo: string;
  sourceType: string;
  sourceId: string;
  lines: JournalLineModel[];
}

export interface InvoiceFilter {
  accountId?: string | null;
  statuses?: readonly InvoiceStatus[] | null;
  dueBefore?: string | null;
}

export interface JournalEntryFilter {
  sourceId?: string | null;
}

export interface NewInvoiceLine {
  description: string;
  quantity: number;
  unitPriceMinor: string;
}

/** Amounts are computed by the connector from the lines, never taken from the caller. */
export interface NewInvoice {
  /** A caller-chosen id makes the create idempotent: a retry with the same id returns the first invoice. */
  id?: string;
  accountId: string;
  currency: string;
  lines: readonly NewInvoiceLine[];
  taxRateBps: number;
  dueInDays: number;
}

/** An invoice another ERP made, mirrored with its own number, lines and amounts (minor units, as strings). */
export interface ImportedInvoice {
  id: string;
  accountId: string;
  /** The other ERP's id of the invoice (the ERP external id). */
  remoteId: string;
  number: string;
  currency: string;
  issueDate: string | null;
  dueDate: string | null;
  lines: readonly { description: string; quantity: number; unitPriceMinor: string; amountMinor: string }[];
  subtotalMinor: string;
  taxMinor: string;
  totalMinor: string;
}

export interface NewPayment {
  /** A caller-chosen id makes the payment idempotent: a retry with the same id returns the first payment. */
  id?: string;
  accountId: string;
  amount: Money;
  method: string;
  reference: string | null;
  /** Invoices to apply to, in this order; null applies to the account's oldest POSTED invoices. */
  invoiceIds: readonly string[] | null;
}

/** What sync writes into the ERP for a CRM account. The ERP owns credit, so credit fields are never overwritten. */
export interface CustomerUpsert {
  id: string;
  name: string;
  currency: string;
}
