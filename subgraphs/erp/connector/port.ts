import type { Money } from '../../../lib/money';
import type { Page } from '../../../lib/pagination';
import type {
  CreditStatus, CustomerUpsert, ExternalRefModel, FinanceAccountModel, InvoiceFilter, InvoiceModel, JournalEntryFilter, JournalEntryModel,
  NewInvoice, NewPayment, PaymentApplicationModel, PaymentModel,
} from './models';

/**
 * What the ERP subgraph needs from an ERP system of record, already bound to one tenant: an adapter cannot be asked
 * for another tenant's data. Batch methods take many ids so loaders turn N lookups into one call.
 *
 * Writes enforce the ledger rules atomically and report broken rules with the errors in `./errors`
 * (`MissingRecord`, `RuleViolation`); callers check input shape and currencies first.
 */
export interface ErpConnector {
  /** Customers with their balance, in one statement for all ids; ids that are not customers are absent. */
  accountsByIds(ids: readonly string[]): Promise<FinanceAccountModel[]>;
  invoicesByIds(ids: readonly string[]): Promise<InvoiceModel[]>;
  listInvoices(filter: InvoiceFilter, page: Page): Promise<InvoiceModel[]>;
  /** Up to `page.limit + 1` invoices per account. */
  invoicePagesByAccounts(accountIds: readonly string[], filter: InvoiceFilter, page: Page): Promise<InvoiceModel[]>;
  paymentsByIds(ids: readonly string[]): Promise<PaymentModel[]>;
  /** Up to `page.limit + 1` payments per account. */
  paymentPagesByAccounts(accountIds: readonly string[], page: Page): Promise<PaymentModel[]>;
  applicationsByInvoices(invoiceIds: readonly string[]): Promise<PaymentApplicationModel[]>;
  applicationsByPayments(paymentIds: readonly string[]): Promise<PaymentApplicationModel[]>;
  /** Entries with their lines, in one statement. */
  journalEntriesByIds(ids: readonly string[]): Promise<JournalEntryModel[]>;
  listJournalEntries(filter: JournalEntryFilter, page: Page): Promise<JournalEntryModel[]>;
  /** Links to the ids these records have in other systems, keyed by entity id. */
  externalIdsByEntities(ids: readonly string[]): Promise<(ExternalRefModel & { entityId: string })[]>;

  /** Creates or renames the account's ERP customer (sync from CRM); credit limit and status stay the ERP's. */
  upsertCustomer(input: CustomerUpsert): Promise<{ remoteId: string; updatedAt: string }>;
  /** A DRAFT invoice numbered from the tenant's counter. */
  createInvoice(input: NewInvoice): Promise<InvoiceModel>;
  /** DRAFT -> POSTED with issue and due dates, and its balanced journal entry. */
  postInvoice(id: string): Promise<InvoiceModel>;
  /** DRAFT, or POSTED without payments, -> VOID; a posted invoice's journal entry is reversed. */
  voidInvoice(id: string, reason: string): Promise<InvoiceModel>;
  /** The payment, its applications to invoices, the reduced amounts due and its journal entry. */
  recordPayment(input: NewPayment): Promise<PaymentModel>;
  setCreditLimit(accountId: string, creditLimit: Money, creditStatus: CreditStatus | null): Promise<FinanceAccountModel>;
}
