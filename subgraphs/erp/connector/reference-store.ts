import { externalIdsOf } from '../../../lib/db/external-ids';
import type { Db, Queryable } from '../../../lib/db/db';
import { MissingRecord } from './errors';
import type { ImportedInvoice, InvoiceFilter, InvoiceModel, InvoiceStatus } from './models';
import type { ErpConnector } from './port';
import { APPLICATION_SELECT, INVOICE_COLS, JOURNAL_COLS, PAYMENT_COLS, application, customerSelect, financeAccount, invoice, journalEntry, payment } from './rows';
import { Where, childPages, listSql } from '../../../lib/db/sql';
import { createInvoice, importInvoice, postInvoice, recordPayment, upsertCustomer, voidInvoice } from './writes';

function invoiceWhere(w: Where, filter: InvoiceFilter): void {
  if (filter.accountId) w.add((p) => `account_id = ${p}`, filter.accountId);
  if (filter.statuses?.length) w.add((p) => `status = ANY(${p}::text[])`, filter.statuses);
  if (filter.dueBefore) w.add((p) => `due_date < ${p}::date`, filter.dueBefore);
}

/** A record changed by a write of the ERP's own API (not by the sync engine mirroring another system). */
export type ErpWritten = { type: 'Account'; id: string } | { type: 'Invoice'; id: string; created: boolean } | { type: 'Payment'; id: string };

/** Called inside the write's transaction: how invoice status changes (and writes a remote ERP must get) commit atomically. */
export interface ErpWriteHooks {
  invoiceStatusChanged(tx: Queryable, invoiceId: string, status: InvoiceStatus): Promise<void>;
  /** Every create, post, void, payment and credit change; absent, nothing is told. */
  written?(tx: Queryable, record: ErpWritten): Promise<void>;
}

/** The reference store as a mirror of a remote ERP also takes that ERP's own invoices as they are. */
export interface ErpReferenceStore extends ErpConnector {
  importInvoice(input: ImportedInvoice): Promise<InvoiceModel>;
}

/** The built-in ERP system of record: tables in the `erp` schema. Every statement is bound to one tenant. */
export function erpReferenceStore(db: Db, tenant: string, hooks?: ErpWriteHooks): ErpReferenceStore {
  const q = (sql: string, params: unknown[]) => db.query(sql, params);
  /** `written`: told as a write of the ERP API (`created`: the invoice is new), not for an invoice mirrored from elsewhere. */
  const announce = async (tx: Queryable, invoice: InvoiceModel, written: 'created' | 'changed' | null): Promise<InvoiceModel> => {
    await hooks?.invoiceStatusChanged(tx, invoice.id, invoice.status);
    if (written) await hooks?.written?.(tx, { type: 'Invoice', id: invoice.id, created: written === 'created' });
    return invoice;
  };
  return {
    async accountsByIds(ids) {
      return (await q(`${customerSelect('erp.customers')} WHERE c.tenant_id = $1 AND c.id = ANY($2::text[])`, [tenant, ids])).map(financeAccount);
    },
    async invoicesByIds(ids) {
      return (await q(`SELECT ${INVOICE_COLS} FROM erp.invoices WHERE tenant_id = $1 AND id = ANY($2::text[])`, [tenant, ids])).map(invoice);
    },
    async listInvoices(filter, page) {
      const w = new Where([tenant]);
      invoiceWhere(w, filter);
      return (await q(listSql('erp.invoices', INVOICE_COLS, w, page), w.params)).map(invoice);
    },
    async invoicePagesByAccounts(accountIds, filter, page) {
      const w = new Where([tenant, accountIds]);
      invoiceWhere(w, { ...filter, accountId: null });
      return (await q(childPages('erp.invoices', INVOICE_COLS, 'account_id', w, page), w.params)).map(invoice);
    },
    async paymentsByIds(ids) {
      return (await q(`SELECT ${PAYMENT_COLS} FROM erp.payments WHERE tenant_id = $1 AND id = ANY($2::text[])`, [tenant, ids])).map(payment);
    },
    async paymentPagesByAccounts(accountIds, page) {
      const w = new Where([tenant, accountIds]);
      return (await q(childPages('erp.payments', PAYMENT_COLS, 'account_id', w, page), w.params)).map(payment);
    },
    async applicationsByInvoices(invoiceIds) {
      const rows = await q(`${APPLICATION_SELECT} WHERE a.tenant_id = $1 AND a.invoice_id = ANY($2::text[]) ORDER BY a.invoice_id, a.payment_id`, [tenant, invoiceIds]);
      return rows.map(application);
    },
    async applicationsByPayments(paymentIds) {
      const rows = await q(`${APPLICATION_SELECT} WHERE a.tenant_id = $1 AND a.payment_id = ANY($2::text[]) ORDER BY a.payment_id, a.invoice_id`, [tenant, paymentIds]);
      return rows.map(application);
    },
    async journalEntriesByIds(ids) {
      return (await q(`SELECT ${JOURNAL_COLS} FROM erp.journal_entries e WHERE tenant_id = $1 AND id = ANY($2::text[])`, [tenant, ids])).map(journalEntry);
    },
    async listJournalEntries(filter, page) {
      const w = new Where([tenant]);
      if (filter.sourceId) w.add((p) => `source_id = ${p}`, filter.sourceId);
      return (await q(listSql('erp.journal_entries e', JOURNAL_COLS, w, page, 'posted_at'), w.params)).map(journalEntry);
    },
    externalIdsByEntities: (ids) => externalIdsOf(db, 'erp', tenant, ids),

    createInvoice: (input) => db.transaction(async (tx) => announce(tx, await createInvoice(tx, tenant, input), 'created')),
    importInvoice: (input) => db.transaction(async (tx) => announce(tx, await importInvoice(tx, tenant, input), null)),
    upsertCustomer: (input) => db.transaction((tx) => upsertCustomer(tx, tenant, input)),
    postInvoice: (id) => db.transaction(async (tx) => announce(tx, await postInvoice(tx, tenant, id), 'changed')),
    voidInvoice: (id, reason) => db.transaction(async (tx) => announce(tx, await voidInvoice(tx, tenant, id, reason), 'changed')),
    recordPayment: (input) =>
      db.transaction(async (tx) => {
        const paid = await recordPayment(tx, tenant, input);
        await hooks?.written?.(tx, { type: 'Payment', id: paid.id });
        if (hooks) {
          const settled = await tx.query<{ id: string }>(
            `SELECT i.id FROM erp.payment_applications a JOIN erp.invoices i ON i.tenant_id = a.tenant_id AND i.id = a.invoice_id
             WHERE a.tenant_id = $1 AND a.payment_id = $2 AND i.status = 'PAID'`,
            [tenant, paid.id],
          );
          for (const inv of settled) await hooks.invoiceStatusChanged(tx, inv.id, 'PAID');
        }
        return paid;
      }),
    setCreditLimit: (accountId, creditLimit, creditStatus) =>
      db.transaction(async (tx) => {
        // One statement: the update, then the customer with its balance read from the updated row.
        const rows = await tx.query(
          `WITH updated AS (UPDATE erp.customers SET credit_limit_minor = $3, credit_status = coalesce($4, credit_status), updated_at = now()
             WHERE tenant_id = $1 AND id = $2 RETURNING *) ${customerSelect('updated')}`,
          [tenant, accountId, creditLimit.amountMinor, creditStatus],
        );
        if (!rows[0]) throw new MissingRecord('Account', accountId);
        await hooks?.written?.(tx, { type: 'Account', id: accountId });
        return financeAccount(rows[0]);
      }),
  };
}
