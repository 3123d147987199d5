import type { Queryable, Row } from '../../../lib/db/db';
import { int, newId } from '../../../lib/db/rows';
import { MissingRecord, RuleViolation } from './errors';
import { type JournalDraft, allocate, invoiceNumber, invoicePosting, invoiceReversal, invoiceTotals, paymentReceipt } from './ledger';
import type { CustomerUpsert, ImportedInvoice, InvoiceModel, NewInvoice, NewPayment, PaymentModel } from './models';
import { INVOICE_COLS, PAYMENT_COLS, invoice, payment } from './rows';
import { assertPostable, assertVoidable } from './rules';

/**
 * The ledger writes of the reference store. Each runs inside one transaction (`tx`) and locks the rows whose state
 * it checks, so two requests cannot both post, void or pay the same invoice.
 */

export async function createInvoice(tx: Queryable, tenant: string, input: NewInvoice): Promise<InvoiceModel> {
  if (input.id) {
    const existing = await tx.query(`SELECT ${INVOICE_COLS} FROM erp.invoices WHERE tenant_id = $1 AND id = $2`, [tenant, input.id]);
    if (existing[0]) return invoice(existing[0]);
  }
  const totals = invoiceTotals(input.lines, input.taxRateBps);
  const counter = await tx.query(
    `INSERT INTO erp.invoice_counters (tenant_id, last_number) VALUES ($1, 1)
     ON CONFLICT (tenant_id) DO UPDATE SET last_number = erp.invoice_counters.last_number + 1 RETURNING last_number`,
    [tenant],
  );
  const rows = await tx.query(
    `INSERT INTO erp.invoices (id, tenant_id, account_id, remote_id, number, status, currency, due_in_days,
       subtotal_minor, tax_minor, total_minor, amount_due_minor, lines)
     SELECT $1, $2, c.id, $4, $5, 'DRAFT', $6, $7, $8, $9, $10, $10, $11 FROM erp.customers c WHERE c.tenant_id = $2 AND c.id = $3
     RETURNING ${INVOICE_COLS}`,
    [input.id ?? newId('inv'), tenant, input.accountId, remoteId('erp-inv'), invoiceNumber(int(first(counter)['last_number'])), input.currency,
      input.dueInDays, totals.subtotal.toString(), totals.tax.toString(), totals.total.toString(), JSON.stringify(totals.lines)],
  );
  // Throwing rolls the counter back too: numbers stay gapless.
  if (!rows[0]) throw new MissingRecord('Account', input.accountId);
  return invoice(rows[0]);
}

/**
 * A DRAFT invoice as another ERP made it (an invoice born in the tenant's Odoo): its number, lines, amounts and dates
 * are that system's, not computed here. Idempotent by id: a second import returns the first.
 */
export async function importInvoice(tx: Queryable, tenant: string, input: ImportedInvoice): Promise<InvoiceModel> {
  const rows = await tx.query(
    `INSERT INTO erp.invoices (id, tenant_id, account_id, remote_id, number, status, currency, issue_date, due_date, due_in_days,
       subtotal_minor, tax_minor, total_minor, amount_due_minor, lines)
     SELECT $1, $2, c.id, $4, $5, 'DRAFT', $6, $7::date, $8::date, greatest(coalesce($8::date - $7::date, 0), 0), $9, $10, $11, $11, $12
     FROM erp.customers c WHERE c.tenant_id = $2 AND c.id = $3
     ON CONFLICT (id) DO NOTHING RETURNING ${INVOICE_COLS}`,
    [input.id, tenant, input.accountId, input.remoteId, input.number, input.currency, input.issueDate, input.dueDate,
      input.subtotalMinor, input.taxMinor, input.totalMinor, JSON.stringify(input.lines)],
  );
  if (rows[0]) return invoice(rows[0]);
  const existing = await tx.query(`SELECT ${INVOICE_COLS} FROM erp.invoices WHERE tenant_id = $1 AND id = $2`, [tenant, input.id]);
  if (!existing[0]) throw new MissingRecord('Account', input.accountId);
  return invoice(existing[0]);
}

export async function postInvoice(tx: Queryable, tenant: string, id: string): Promise<InvoiceModel> {
  const current = await lockInvoice(tx, tenant, id);
  assertPostable(current);
  // Dates in UTC so the issue date does not depend on the database server's time zone.
  const rows = await tx.query(
    `UPDATE erp.invoices SET status = 'POSTED', issue_date = coalesce(issue_date, (now() AT TIME ZONE 'UTC')::date),
       due_date = coalesce(due_date, coalesce(issue_date, (now() AT TIME ZONE 'UTC')::date) + due_in_days), updated_at = now()
     WHERE tenant_id = $1 AND id = $2 RETURNING ${INVOICE_COLS}`,
    [tenant, id],
  );
  const posted = invoice(first(rows));
  await writeJournalEntry(tx, tenant, invoicePosting(ledgerAmounts(posted)));
  return posted;
}

export async function voidInvoice(tx: Queryable, tenant: string, id: string, reason: string): Promise<InvoiceModel> {
  const current = await lockInvoice(tx, tenant, id);
  assertVoidable(current);
  const rows = await tx.query(
    `UPDATE erp.invoices SET status = 'VOID', void_reason = $3, amount_due_minor = 0, updated_at = now()
     WHERE tenant_id = $1 AND id = $2 RETURNING ${INVOICE_COLS}`,
    [tenant, id, reason],
  );
  if (current.status === 'POSTED') await writeJournalEntry(tx, tenant, invoiceReversal(ledgerAmounts(current)));
  return invoice(first(rows));
}

export async function recordPayment(tx: Queryable, tenant: string, input: NewPayment): Promise<PaymentModel> {
  if (input.id) {
    const existing = await tx.query(`SELECT ${PAYMENT_COLS} FROM erp.payments WHERE tenant_id = $1 AND id = $2`, [tenant, input.id]);
    if (existing[0]) return payment(existing[0]);
  }
  // Locking the customer serialises payments per account, so two payments never split the same amount due.
  // NO KEY UPDATE: invoice inserts for the account (whose foreign key check takes KEY SHARE) are not blocked.
  const customer = await tx.query('SELECT id FROM erp.customers WHERE tenant_id = $1 AND id = $2 FOR NO KEY UPDATE', [tenant, input.accountId]);
  if (customer.length === 0) throw new MissingRecord('Account', input.accountId);
  const targets = input.invoiceIds
    ? await namedOpenInvoices(tx, tenant, input.accountId, input.invoiceIds)
    : (await tx.query(
        `SELECT ${INVOICE_COLS} FROM erp.invoices WHERE tenant_id = $1 AND account_id = $2 AND status = 'POSTED'
         ORDER BY issue_date, created_at, id FOR UPDATE`,
        [tenant, input.accountId],
      )).map(invoice);
  const amount = BigInt(input.amount.amountMinor);
  const applied = allocate(amount, targets.map((i) => ({ id: i.id, amountDue: BigInt(i.amountDue.amountMinor) })));

  const rows = await tx.query(
    `INSERT INTO erp.payments (id, tenant_id, account_id, remote_id, amount_minor, currency, method, reference)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ${PAYMENT_COLS}`,
    [input.id ?? newId('pay'), tenant, input.accountId, remoteId('erp-pay'), input.amount.amountMinor, input.amount.currency, input.method, input.reference],
  );
  const created = payment(first(rows));
  if (applied.length > 0) {
    const ids = applied.map((a) => a.invoiceId);
    const amounts = applied.map((a) => a.amount.toString());
    await tx.query(
      `INSERT INTO erp.payment_applications (tenant_id, payment_id, invoice_id, amount_minor)
       SELECT $1, $2, a.id, a.amount FROM unnest($3::text[], $4::bigint[]) AS a(id, amount)`,
      [tenant, created.id, ids, amounts],
    );
    await tx.query(
      `UPDATE erp.invoices i SET amount_due_minor = i.amount_due_minor - a.amount,
         status = CASE WHEN i.amount_due_minor = a.amount THEN 'PAID' ELSE i.status END, updated_at = now()
       FROM unnest($2::text[], $3::bigint[]) AS a(id, amount) WHERE i.tenant_id = $1 AND i.id = a.id`,
      [tenant, ids, amounts],
    );
  }
  await writeJournalEntry(tx, tenant, paymentReceipt({ id: created.id, currency: created.amount.currency, amount }));
  return created;
}

/** The invoices a payment names, locked, in the caller's order; each must be an open invoice of the account. */
async function namedOpenInvoices(tx: Queryable, tenant: string, accountId: string, ids: readonly string[]): Promise<InvoiceModel[]> {
  const rows = await tx.query(
    `SELECT ${INVOICE_COLS} FROM erp.invoices WHERE tenant_id = $1 AND account_id = $2 AND id = ANY($3::text[]) FOR UPDATE`,
    [tenant, accountId, ids],
  );
  const byId = new Map(rows.map(invoice).map((i) => [i.id, i]));
  return ids.map((id) => {
    const found = byId.get(id);
    if (!found) throw new MissingRecord('Invoice', id);
    if (found.status !== 'POSTED') {
      throw new RuleViolation('ERP.INVOICE_NOT_OPEN', `Invoice "${id}" is ${found.status}; payments apply only to POSTED invoices`);
    }
    return found;
  });
}

/** Writes one entry and its lines; the deferred trigger rejects the transaction at commit if they do not balance. */
async function writeJournalEntry(tx: Queryable, tenant: string, entry: JournalDraft): Promise<void> {
  if (entry.lines.length === 0) return;
  const id = newId('je');
  await tx.query(
    'INSERT INTO erp.journal_entries (id, tenant_id, memo, source_type, source_id, currency) VALUES ($1, $2, $3, $4, $5, $6)',
    [id, tenant, entry.memo, entry.sourceType, entry.sourceId, entry.currency],
  );
  await tx.query(
    `INSERT INTO erp.journal_lines (tenant_id, entry_id, line_no, account_code, debit_minor, credit_minor)
     SELECT $1, $2, l.line_no, l.code, l.debit, l.credit FROM unnest($3::int[], $4::text[], $5::bigint[], $6::bigint[]) AS l(line_no, code, debit, credit)`,
    [tenant, id, entry.lines.map((_l, i) => i + 1), entry.lines.map((l) => l.accountCode),
      entry.lines.map((l) => l.debit.toString()), entry.lines.map((l) => l.credit.toString())],
  );
}

async function lockInvoice(tx: Queryable, tenant: string, id: string): Promise<InvoiceModel> {
  const rows = await tx.query(`SELECT ${INVOICE_COLS} FROM erp.invoices WHERE tenant_id = $1 AND id = $2 FOR UPDATE`, [tenant, id]);
  if (!rows[0]) throw new MissingRecord('Invoice', id);
  return invoice(rows[0]);
}

function ledgerAmounts(inv: InvoiceModel) {
  return {
    id: inv.id, number: inv.number, currency: inv.currency,
    subtotal: BigInt(inv.subtotal.amountMinor), tax: BigInt(inv.tax.amountMinor), total: BigInt(inv.total.amountMinor),
  };
}

function first(rows: Row[]): Row {
  const row = rows[0];
  if (!row) throw new Error('statement returned no row');
  return row;
}

/** The id the ERP itself shows for a document; 48 random bits so tenants with millions of documents do not collide. */
function remoteId(prefix: string): string {
  return `${prefix}-${crypto.randomUUID().replace(/-/g, '').slice(0, 12)}`;
}

export async function upsertCustomer(tx: Queryable, tenant: string, input: CustomerUpsert): Promise<{ remoteId: string; updatedAt: string }> {
  const rows = await tx.query(
    `INSERT INTO erp.customers (id, tenant_id, remote_id, name, currency) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, updated_at = now() WHERE erp.customers.tenant_id = EXCLUDED.tenant_id
     RETURNING remote_id, updated_at`,
    [input.id, tenant, remoteId('CUST'), input.name, input.currency],
  );
  const row = first(rows);
  return { remoteId: String(row['remote_id']), updatedAt: new Date(row['updated_at'] as Date | string).toISOString() };
}
