import type { Money } from '../../../lib/money';
import type { ChangePage, RemoteRecord } from '../../../lib/connectors/remote';
import type { InvoiceStatus } from './models';

/**
 * What the sync engine needs from a remote ERP (Odoo, ...), bound to one connection. Writes carry our canonical id,
 * which the vendor keeps on the record, so a retried write finds what the first attempt made; state changes
 * (posting, cancelling) are idempotent: asking for the state a record is already in is not an error. Every call goes
 * through the connection's `Outbound` and fails with the errors of lib/connectors/errors.ts; a broken ledger rule
 * the vendor refuses (unbalanced entry, cancelling a paid invoice) is a `PermanentError`.
 *
 * ERPs rarely push changes, so there is no webhook member: changes arrive by `changes` polling.
 */
export interface ErpRemote {
  readonly vendor: string;
  /**
   * Whether the credentials reach the vendor (a connection's "test"): one cheap authenticated read. Resolves with the
   * vendor's account id; rejects with AuthError for refused credentials, TransientError when unreachable.
   */
  checkAccess(): Promise<{ accountId: string }>;
  upsertCustomer(input: CustomerWrite): Promise<RemoteRecord<RemoteCustomerFields>>;
  setCreditLimit(customerRemoteId: string, creditLimit: Money): Promise<RemoteRecord<RemoteCustomerFields>>;
  /** A draft invoice; amounts are the ERP's to compute (taxes included). */
  createInvoice(input: InvoiceWrite): Promise<RemoteRecord<RemoteInvoiceFields>>;
  postInvoice(remoteId: string): Promise<RemoteRecord<RemoteInvoiceFields>>;
  cancelInvoice(remoteId: string): Promise<RemoteRecord<RemoteInvoiceFields>>;
  /** A posted customer payment reconciled with the given invoices, oldest first, up to its amount. */
  recordPayment(input: PaymentWrite): Promise<RemoteRecord<RemotePaymentFields>>;
  get<K extends ErpKind>(kind: K, remoteIds: readonly string[]): Promise<RemoteRecord<ErpFields[K]>[]>;
  /** Records changed since `cursor` (null: from the beginning), oldest first. */
  changes<K extends ErpKind>(kind: K, cursor: string | null, limit: number): Promise<ChangePage<ErpFields[K]>>;
}

export interface ErpFields {
  customer: RemoteCustomerFields;
  invoice: RemoteInvoiceFields;
  payment: RemotePaymentFields;
}
export type ErpKind = keyof ErpFields;
export const ERP_KINDS: readonly ErpKind[] = ['customer', 'invoice', 'payment'];

export interface RemoteCustomerFields {
  name: string;
  email: string | null;
  /** Null when the ERP sets no limit. */
  creditLimit: Money | null;
}

export interface RemoteInvoiceLine {
  description: string;
  quantity: number;
  unitPrice: Money;
  amount: Money;
}

export interface RemoteInvoiceFields {
  customerRemoteId: string;
  /** The ERP's number; null while a draft has none. */
  number: string | null;
  /** POSTED with nothing left to pay is PAID; cancelled is VOID. */
  status: InvoiceStatus;
  currency: string;
  issueDate: string | null;
  dueDate: string | null;
  lines: RemoteInvoiceLine[];
  subtotal: Money;
  tax: Money;
  total: Money;
  amountDue: Money;
}

export interface RemotePaymentFields {
  customerRemoteId: string;
  amount: Money;
  date: string;
  state: 'DRAFT' | 'POSTED' | 'CANCELLED';
  /** The invoices this payment is reconciled with. */
  invoiceRemoteIds: string[];
}

export interface CustomerWrite {
  canonicalId: string;
  name: string;
  email?: string | null;
}

export interface InvoiceWrite {
  canonicalId: string;
  customerRemoteId: string;
  currency: string;
  issueDate?: string | null;
  dueDate?: string | null;
  lines: readonly { description: string; quantity: number; unitPriceMinor: string }[];
}

export interface PaymentWrite {
  canonicalId: string;
  customerRemoteId: string;
  amount: Money;
  date: string;
  invoiceRemoteIds: readonly string[];
}
