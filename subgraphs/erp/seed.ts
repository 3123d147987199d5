import type { Queryable } from '../../lib/db/db';
import { insertRows } from '../../lib/seed/insert';
import { type Rng, type SeedAccount, type SeedLink, rng, seededId } from '../../lib/seed/random';
import { type JournalDraft, invoiceNumber, invoicePosting, invoiceTotals, paymentReceipt } from './connector/ledger';
import type { CreditStatus, InvoiceStatus } from './connector/models';

/** Invoices per account at most: seeded numbers are derived from the account index so they never collide. */
const MAX_INVOICES = 5;
const DAY_MS = 86_400_000;
const PRODUCTS = ['Platform subscription', 'Premium support', 'Onboarding services', 'Additional seats', 'Usage overage', 'Training day'];
const TAX_RATES_BPS = [0, 500, 1000, 2000];
const TERMS_DAYS = [14, 30, 45];
const METHODS = ['ACH', 'WIRE', 'CARD', 'CHECK'];
const STATUSES: readonly InvoiceStatus[] = ['DRAFT', 'POSTED', 'POSTED', 'POSTED', 'PAID', 'PAID', 'PAID', 'PAID', 'VOID'];
const CREDIT_STATUSES: readonly CreditStatus[] = ['OK', 'OK', 'OK', 'OK', 'OK', 'OK', 'OK', 'OK', 'ON_HOLD', 'BLOCKED'];

interface Rows {
  customers: unknown[][];
  invoices: unknown[][];
  payments: unknown[][];
  applications: unknown[][];
  entries: unknown[][];
  /** Journal lines column by column, for one `unnest` insert. */
  lines: { tenant: string[]; entry: string[]; no: number[]; code: string[]; debit: string[]; credit: string[] };
  /** Highest seeded invoice number per tenant. */
  lastNumbers: Map<string, number>;
}

/**
 * Seeds the ERP side of the given CRM accounts: a customer each, 0-5 invoices in mixed states, payments for the
 * paid (and some part-paid) ones and balanced journal entries for everything posted. Deterministic per account.
 */
export async function seedErp(db: Queryable, accounts: readonly SeedAccount[]): Promise<SeedLink[]> {
  const rows: Rows = {
    customers: [], invoices: [], payments: [], applications: [], entries: [],
    lines: { tenant: [], entry: [], no: [], code: [], debit: [], credit: [] }, lastNumbers: new Map(),
  };
  for (const account of accounts) seedAccount(account, rows);

  await insertRows(db, 'erp.customers', ['id', 'tenant_id', 'remote_id', 'name', 'currency', 'credit_limit_minor', 'credit_status', 'created_at', 'updated_at'], rows.customers);
  await insertRows(db, 'erp.invoices', [
    'id', 'tenant_id', 'account_id', 'remote_id', 'number', 'status', 'currency', 'issue_date', 'due_date', 'due_in_days', 'subtotal_minor', 'tax_minor',
    'total_minor', 'amount_due_minor', 'lines', 'void_reason', 'created_at', 'updated_at',
  ], rows.invoices);
  await insertRows(db, 'erp.payments', ['id', 'tenant_id', 'account_id', 'remote_id', 'amount_minor', 'currency', 'method', 'reference', 'received_at', 'created_at', 'updated_at'], rows.payments);
  await insertRows(db, 'erp.payment_applications', ['tenant_id', 'payment_id', 'invoice_id', 'amount_minor'], rows.applications);
  await insertRows(db, 'erp.journal_entries', ['id', 'tenant_id', 'posted_at', 'memo', 'source_type', 'source_id', 'currency'], rows.entries);
  // All lines in one statement: chunked inserts outside a transaction would commit an entry's lines apart, and the
  // deferred balance check would reject the first half.
  const l = rows.lines;
  await db.query(
    `INSERT INTO erp.journal_lines (tenant_id, entry_id, line_no, account_code, debit_minor, credit_minor)
     SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::bigint[], $6::bigint[])`,
    [l.tenant, l.entry, l.no, l.code, l.debit, l.credit],
  );
  // Invoices created through the API continue after the highest seeded number.
  await db.query(
    `INSERT INTO erp.invoice_counters (tenant_id, last_number) SELECT * FROM unnest($1::text[], $2::bigint[])
     ON CONFLICT (tenant_id) DO UPDATE SET last_number = GREATEST(erp.invoice_counters.last_number, EXCLUDED.last_number)`,
    [[...rows.lastNumbers.keys()], [...rows.lastNumbers.values()]],
  );
  return accounts.map((a) => ({ accountId: a.id, system: 'ERP', remoteId: customerRemoteId(a.index), updatedAt: a.createdAt }));
}

const customerRemoteId = (index: number) => `CUST-${String(index + 1).padStart(6, '0')}`;

function seedAccount(account: SeedAccount, rows: Rows): void {
  const { tenant, index, currency } = account;
  const r = rng(`erp|${tenant}|${index}`);
  rows.customers.push([
    account.id, tenant, customerRemoteId(index), account.name, currency, String(r.int(10, 500) * 100_000),
    r.pick(CREDIT_STATUSES), account.createdAt, account.createdAt,
  ]);
  const count = r.int(0, MAX_INVOICES);
  for (let k = 0; k < count; k++) {
    const id = seededId('inv', tenant, index, k);
    const number = index * MAX_INVOICES + k + 1;
    rows.lastNumbers.set(tenant, Math.max(rows.lastNumbers.get(tenant) ?? 0, number));
    const status = r.pick(STATUSES);
    const lines = Array.from({ length: r.int(1, 3) }, () => ({ description: r.pick(PRODUCTS), quantity: r.int(1, 10), unitPriceMinor: String(r.int(10, 2000) * 100) }));
    const totals = invoiceTotals(lines, r.pick(TAX_RATES_BPS));
    const terms = r.pick(TERMS_DAYS);
    const issuedMs = Date.parse(account.createdAt) + (k * 30 + r.int(0, 10)) * DAY_MS;
    const posted = status === 'POSTED' || status === 'PAID';
    const inv = { id, number: invoiceNumber(number), currency, ...totals };
    // Every PAID invoice was paid in full; a quarter of the POSTED ones are part-paid.
    const paid = status === 'PAID' ? totals.total : status === 'POSTED' && r.next() < 0.25 ? totals.total / 2n : 0n;
    if (paid > 0n) seedPayment(account, r, rows, { invoiceId: id, k, amount: paid, receivedMs: issuedMs + r.int(1, terms) * DAY_MS });
    if (posted) addEntry(rows, tenant, seededId('je', tenant, index, k, 'invoice'), new Date(issuedMs).toISOString(), invoicePosting(inv));
    const created = new Date(issuedMs).toISOString();
    rows.invoices.push([
      id, tenant, account.id, `erp-inv-${tenant}-${index}-${k}`, inv.number, status, currency,
      posted ? created.slice(0, 10) : null, posted ? new Date(issuedMs + terms * DAY_MS).toISOString().slice(0, 10) : null, terms,
      totals.subtotal.toString(), totals.tax.toString(), totals.total.toString(),
      (status === 'VOID' ? 0n : totals.total - paid).toString(), JSON.stringify(totals.lines),
      status === 'VOID' ? 'Raised in error' : null, created, created,
    ]);
  }
}

function seedPayment(account: SeedAccount, r: Rng, rows: Rows, p: { invoiceId: string; k: number; amount: bigint; receivedMs: number }): void {
  const { tenant, index, currency } = account;
  const id = seededId('pay', tenant, index, p.k);
  const received = new Date(p.receivedMs).toISOString();
  rows.payments.push([
    id, tenant, account.id, `erp-pay-${tenant}-${index}-${p.k}`, p.amount.toString(), currency, r.pick(METHODS),
    `REF-${r.int(100_000, 999_999)}`, received, received, received,
  ]);
  rows.applications.push([tenant, id, p.invoiceId, p.amount.toString()]);
  addEntry(rows, tenant, seededId('je', tenant, index, p.k, 'payment'), received, paymentReceipt({ id, currency, amount: p.amount }));
}

function addEntry(rows: Rows, tenant: string, id: string, postedAt: string, entry: JournalDraft): void {
  rows.entries.push([id, tenant, postedAt, entry.memo, entry.sourceType, entry.sourceId, entry.currency]);
  entry.lines.forEach((line, i) => {
    rows.lines.tenant.push(tenant);
    rows.lines.entry.push(id);
    rows.lines.no.push(i + 1);
    rows.lines.code.push(line.accountCode);
    rows.lines.debit.push(line.debit.toString());
    rows.lines.credit.push(line.credit.toString());
  });
}
