import { moneyToDecimal } from '../../../../lib/connectors/decimal-money';
import { PermanentError } from '../../../../lib/connectors/errors';
import type { Outbound } from '../../../../lib/connectors/outbound';
import type { ChangePage, JsonObject, RemoteRecord } from '../../../../lib/connectors/remote';
import type { Money } from '../../../../lib/money';
import type {
  CustomerWrite, ErpFields, ErpKind, ErpRemote, InvoiceWrite, PaymentWrite, RemoteCustomerFields, RemoteInvoiceFields, RemotePaymentFields,
} from '../remote-port';
import { type OdooJson, OdooRpc } from './json-rpc';
import { customerFields, FIELDS, invoiceFields, odooInstant, type OdooRecord, paymentFields, text } from './mapping';
import { type OdooCredentials, type OdooSettings, mappedPartnerFields, odooSettings } from './settings';

const MODEL: Record<ErpKind, string> = { customer: 'res.partner', invoice: 'account.move', payment: 'account.payment' };
/** Which records of a model are ours to sync: customer invoices only, inbound customer payments only. */
const SCOPE: Record<ErpKind, OdooJson[]> = {
  customer: [],
  invoice: [['move_type', '=', 'out_invoice']],
  payment: [['payment_type', '=', 'inbound'], ['partner_type', '=', 'customer']],
};

/** Where a poll stands: records written after (`since`, `id`) in (write_date, id) order. */
interface Cursor {
  since: string;
  id: number;
}

export interface OdooRemoteOptions {
  credentials: OdooCredentials;
  settings: Partial<OdooSettings> & Pick<OdooSettings, 'url' | 'db' | 'login'>;
  outbound: Outbound;
}

/**
 * Odoo behind the `ErpRemote` port, over its external JSON-RPC API. Our canonical id lives in each record's `ref`
 * (partner reference, invoice reference, payment memo), so every create first looks for it and a retried job finds
 * what the first attempt made; state changes read the state first, so asking for the state a record already has
 * is a no-op. Payments go through Odoo's own register-payment wizard, which posts them and reconciles the invoices.
 * Changes are polled by `write_date` (no webhooks in Odoo's external API).
 */
export class OdooErpRemote implements ErpRemote {
  readonly vendor = 'odoo';
  private readonly rpc: OdooRpc;
  private readonly settings: OdooSettings;
  private companyCurrency: Promise<string> | null = null;
  private readonly currencyIds = new Map<string, Promise<number>>();

  constructor(options: OdooRemoteOptions) {
    this.settings = odooSettings.parse(options.settings);
    this.rpc = new OdooRpc({ url: this.settings.url, db: this.settings.db, login: this.settings.login, apiKey: options.credentials.apiKey }, options.outbound);
  }

  async checkAccess(): Promise<{ accountId: string }> {
    // Authenticates (a refused key is an AuthError) and reads the company, which the accounting user must see.
    await this.currencyOfCompany();
    return { accountId: `${this.settings.db}@${new URL(this.settings.url).host}` };
  }

  async upsertCustomer(input: CustomerWrite): Promise<RemoteRecord<RemoteCustomerFields>> {
    const values: Record<string, OdooJson> = { name: input.name, ...(input.email !== undefined ? { email: input.email ?? false } : {}) };
    const existing = await this.findByRef('customer', input.canonicalId);
    if (existing !== null) await this.rpc.execute('res.partner', 'write', [[existing], values]);
    const id = existing ?? (await this.rpc.execute<number>('res.partner', 'create', [{ ...values, ref: input.canonicalId, customer_rank: 1, is_company: true }]));
    return this.one('customer', id);
  }

  async setCreditLimit(customerRemoteId: string, creditLimit: Money): Promise<RemoteRecord<RemoteCustomerFields>> {
    const currency = await this.currencyOfCompany();
    if (creditLimit.currency !== currency) throw new PermanentError('CURRENCY_MISMATCH', `Odoo keeps credit limits in the company currency ${currency}, not ${creditLimit.currency}`);
    await this.rpc.execute('res.partner', 'write', [[Number(customerRemoteId)], { credit_limit: Number(moneyToDecimal(creditLimit)) }]);
    return this.one('customer', Number(customerRemoteId));
  }

  async createInvoice(input: InvoiceWrite): Promise<RemoteRecord<RemoteInvoiceFields>> {
    const existing = await this.findByRef('invoice', input.canonicalId);
    if (existing !== null) return this.one('invoice', existing);
    const currency = { amountMinor: '0', currency: input.currency };
    const id = await this.rpc.execute<number>('account.move', 'create', [{
      move_type: 'out_invoice',
      partner_id: Number(input.customerRemoteId),
      currency_id: await this.currencyId(input.currency),
      ref: input.canonicalId,
      ...(input.issueDate ? { invoice_date: input.issueDate } : {}),
      ...(input.dueDate ? { invoice_date_due: input.dueDate } : {}),
      // One2many create commands: [0, 0, values].
      invoice_line_ids: input.lines.map((l) => [0, 0, { name: l.description, quantity: l.quantity, price_unit: Number(moneyToDecimal({ ...currency, amountMinor: l.unitPriceMinor })) }]),
    }]);
    return this.one('invoice', id);
  }

  async postInvoice(remoteId: string): Promise<RemoteRecord<RemoteInvoiceFields>> {
    const current = await this.one('invoice', Number(remoteId));
    if (current.fields.status === 'VOID') throw new PermanentError('INVOICE_CANCELLED', `Odoo invoice ${remoteId} is cancelled and cannot be posted`);
    if (current.fields.status !== 'DRAFT') return current;
    await this.rpc.execute('account.move', 'action_post', [[Number(remoteId)]]);
    return this.one('invoice', Number(remoteId));
  }

  async cancelInvoice(remoteId: string): Promise<RemoteRecord<RemoteInvoiceFields>> {
    const current = await this.one('invoice', Number(remoteId));
    if (current.fields.status === 'VOID') return current;
    // Odoo cancels drafts only: a posted invoice goes back to draft first (refused once payments are reconciled).
    if (current.fields.status !== 'DRAFT') await this.rpc.execute('account.move', 'button_draft', [[Number(remoteId)]]);
    await this.rpc.execute('account.move', 'button_cancel', [[Number(remoteId)]]);
    return this.one('invoice', Number(remoteId));
  }

  async recordPayment(input: PaymentWrite): Promise<RemoteRecord<RemotePaymentFields>> {
    const existing = await this.findByRef('payment', input.canonicalId);
    if (existing !== null) return this.one('payment', existing);
    const amount = Number(moneyToDecimal(input.amount));
    const journal: Record<string, OdooJson> = this.settings.paymentJournalId ? { journal_id: this.settings.paymentJournalId } : {};
    if (input.invoiceRemoteIds.length === 0) {
      const id = await this.rpc.execute<number>('account.payment', 'create', [{
        payment_type: 'inbound', partner_type: 'customer', partner_id: Number(input.customerRemoteId), amount,
        currency_id: await this.currencyId(input.amount.currency), date: input.date, ref: input.canonicalId, ...journal,
      }]);
      await this.rpc.execute('account.payment', 'action_post', [[id]]);
      return this.one('payment', id);
    }
    // The wizard Odoo's UI uses: one payment for the invoices, posted and reconciled with them, oldest due first.
    const context = { active_model: 'account.move', active_ids: input.invoiceRemoteIds.map(Number) };
    const wizard = await this.rpc.execute<number>('account.payment.register', 'create', [{
      amount, payment_date: input.date, communication: input.canonicalId, group_payment: true, ...journal,
    }], { context });
    await this.rpc.execute('account.payment.register', 'action_create_payments', [[wizard]], { context });
    const made = await this.findByRef('payment', input.canonicalId);
    if (made === null) throw new PermanentError('ODOO_PAYMENT_NOT_FOUND', `Odoo registered no payment with memo ${input.canonicalId}`);
    return this.one('payment', made);
  }

  async get<K extends ErpKind>(kind: K, remoteIds: readonly string[]): Promise<RemoteRecord<ErpFields[K]>[]> {
    if (remoteIds.length === 0) return [];
    const rows = await this.rpc.execute<OdooRecord[]>(MODEL[kind], 'search_read', [[...SCOPE[kind], ['id', 'in', remoteIds.map(Number)]], this.fieldsOf(kind)]);
    return this.toRecords(kind, rows);
  }

  async changes<K extends ErpKind>(kind: K, cursor: string | null, limit: number): Promise<ChangePage<ErpFields[K]>> {
    const at: Cursor = cursor ? (JSON.parse(cursor) as Cursor) : { since: '1970-01-01 00:00:00', id: 0 };
    // Keyset on (write_date, id): write_date has second precision, so many records share one; the id breaks ties.
    const after: OdooJson[] = ['|', ['write_date', '>', at.since], '&', ['write_date', '=', at.since], ['id', '>', at.id]];
    const rows = await this.rpc.execute<OdooRecord[]>(MODEL[kind], 'search_read', [[...SCOPE[kind], ...after], this.fieldsOf(kind)], {
      order: 'write_date asc, id asc', limit: limit + 1,
    });
    const hasMore = rows.length > limit;
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    let next: Cursor = at;
    if (last && hasMore) next = { since: last.write_date, id: last.id };
    // Caught up: step back by the overlap window (records stamped at transaction start may commit after we read).
    else if (last) next = { since: maxStamp(at.since, shift(last.write_date, -this.settings.overlapMs)), id: 0 };
    return { records: await this.toRecords(kind, page), cursor: JSON.stringify(next), hasMore };
  }

  /** The fields read of a model: the mapping's own, plus the partner fields the connection's field mappings name. */
  private fieldsOf(kind: ErpKind): string[] {
    const extra = kind === 'customer' ? mappedPartnerFields(this.settings.fieldMappings).filter((f) => !(FIELDS.customer as readonly string[]).includes(f)) : [];
    return [...FIELDS[kind], ...extra];
  }

  private async one<K extends ErpKind>(kind: K, id: number): Promise<RemoteRecord<ErpFields[K]>> {
    const [record] = await this.get(kind, [String(id)]);
    if (!record) throw new PermanentError('ODOO_RECORD_NOT_FOUND', `${MODEL[kind]} ${id} not found in Odoo`);
    return record;
  }

  private async findByRef(kind: ErpKind, canonicalId: string): Promise<number | null> {
    const found = await this.rpc.execute<number[]>(MODEL[kind], 'search', [[...SCOPE[kind], ['ref', '=', canonicalId]]], { limit: 1 });
    return found[0] ?? null;
  }

  private async toRecords<K extends ErpKind>(kind: K, rows: readonly OdooRecord[]): Promise<RemoteRecord<ErpFields[K]>[]> {
    const fields = await this.mapper(kind, rows);
    return rows.map((r) => ({
      remoteId: String(r.id),
      canonicalId: text(r['ref']),
      remoteUpdatedAt: odooInstant(r.write_date),
      fields: fields(r),
      remoteData: r as JsonObject,
    }));
  }

  /** The per-kind mapping, with what it needs fetched once per page (invoice lines, the company currency). */
  private async mapper<K extends ErpKind>(kind: K, rows: readonly OdooRecord[]): Promise<(r: OdooRecord) => ErpFields[K]> {
    const mappers: { [P in ErpKind]: () => Promise<(r: OdooRecord) => ErpFields[P]> } = {
      customer: async () => {
        const currency = rows.length > 0 ? await this.currencyOfCompany() : 'USD';
        return (r) => customerFields(r, currency);
      },
      invoice: async () => {
        const lineIds = rows.flatMap((r) => (Array.isArray(r['invoice_line_ids']) ? r['invoice_line_ids'] : []));
        const lines = lineIds.length > 0 ? await this.rpc.execute<OdooRecord[]>('account.move.line', 'read', [lineIds, [...FIELDS.line]]) : [];
        const byId = new Map(lines.map((l) => [l.id, l]));
        return (r) => invoiceFields(r, byId);
      },
      payment: async () => paymentFields,
    };
    return mappers[kind]();
  }

  private currencyOfCompany(): Promise<string> {
    this.companyCurrency ??= this.rpc.execute<OdooRecord[]>('res.company', 'search_read', [[], ['currency_id']], { limit: 1 }).then((rows) => {
      const currency = rows[0]?.['currency_id'];
      if (!Array.isArray(currency) || typeof currency[1] !== 'string') throw new PermanentError('ODOO_NO_COMPANY', 'the API user sees no company in Odoo');
      return currency[1];
    });
    this.companyCurrency.catch(() => (this.companyCurrency = null));
    return this.companyCurrency;
  }

  private currencyId(code: string): Promise<number> {
    let id = this.currencyIds.get(code);
    if (!id) {
      id = this.rpc.execute<number[]>('res.currency', 'search', [[['name', '=', code]]], { limit: 1 }).then(([found]) => {
        if (found === undefined) throw new PermanentError('CURRENCY_NOT_ACTIVE', `currency ${code} is not active in Odoo`);
        return found;
      });
      id.catch(() => this.currencyIds.delete(code));
      this.currencyIds.set(code, id);
    }
    return id;
  }
}

/** Moves an Odoo timestamp ("YYYY-MM-DD HH:MM:SS", UTC) by `ms`. */
function shift(stamp: string, ms: number): string {
  return new Date(Date.parse(odooInstant(stamp)) + ms).toISOString().slice(0, 19).replace('T', ' ');
}

function maxStamp(a: string, b: string): string {
  return a > b ? a : b;
}

