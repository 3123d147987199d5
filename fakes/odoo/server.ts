import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpFake, sendJson } from '../http-fake';
import { type Domain, DomainError, matchesDomain, type OdooRow, type OdooValue, sortRows } from './domain';

/**
 * A stateful Odoo (17-style accounting) behind the external JSON-RPC API (`POST /jsonrpc`, services `common` and
 * `object`/`execute_kw`), for tests and the demo. It keeps the rules our adapter relies on: `write_date` maintained
 * on every write (second precision, UTC, as Odoo stores it), invoices that post only from draft with a customer and
 * lines and a balanced entry, cancel only from draft, reset to draft refused once payments are reconciled, payments
 * registered through the `account.payment.register` wizard reconciling invoices oldest due first and moving their
 * `payment_state`. Failures use Odoo's JSON-RPC error object (`code` 200, "Odoo Server Error", `data.name` the
 * Python exception); HTTP-level faults (5xx, 429 from a proxy) come from the fault switches.
 */

export const ODOO_UID = 2;

export class OdooError extends Error {
  constructor(readonly exception: string, message: string) {
    super(message);
  }
}

const userError = (message: string) => new OdooError('odoo.exceptions.UserError', message);

export interface OdooFakeOptions {
  db?: string;
  login?: string;
  apiKey?: string;
}

type Row = OdooRow & { id: number };

export class OdooFake extends HttpFake {
  /** Models the API user may not touch (an access-rights fault: `odoo.exceptions.AccessError`). */
  readonly deniedModels = new Set<string>();
  readonly db: string;
  readonly login: string;
  apiKey: string;
  /** The clock `write_date` is stamped from. */
  now: () => Date = () => new Date();
  /** Every `execute_kw` the API served, in order (answered or dropped): what our side asked Odoo to do. */
  readonly calls: { model: string; method: string; args: OdooValue[] }[] = [];
  /**
   * Per model method (`write`, `create`, `action_post`...): how many calls to carry out and then answer with a dropped
   * connection (the vendor did the work, the answer was lost).
   */
  readonly dropAnswers = new Map<string, number>();
  /** Fields added to a model (Odoo Studio's `x_` fields, or a module's), with the value records without one read as. */
  private readonly addedFields = new Map<string, Map<string, OdooValue>>();
  private readonly tables = new Map<string, Map<number, Row>>();
  private nextId = 1;
  private sequence = { invoice: 0, payment: 0 };
  private readonly saleJournal: number;
  private readonly bankJournal: number;

  constructor(options: OdooFakeOptions = {}) {
    super();
    this.db = options.db ?? 'fake-db';
    this.login = options.login ?? 'api@example.com';
    this.apiKey = options.apiKey ?? 'odoo-api-key';
    for (const [name, decimals] of [['USD', 2], ['EUR', 2], ['GBP', 2], ['JPY', 0]] as const) {
      this.insert('res.currency', { name, decimal_places: decimals, active: true });
    }
    this.insert('res.company', { name: 'Fake Company', currency_id: this.m2o('res.currency', 1) });
    this.saleJournal = this.insert('account.journal', { name: 'Customer Invoices', type: 'sale', code: 'INV' });
    this.bankJournal = this.insert('account.journal', { name: 'Bank', type: 'bank', code: 'BNK1' });
  }


  /** Runs a model method as a user in Odoo's own UI would (out of band: not through the API, not logged). */
  execute(model: string, method: string, args: OdooValue[], kwargs: Record<string, OdooValue> = {}): OdooValue {
    return this.dispatch(model, method, args, kwargs);
  }

  /** Adds a field to a model, as Odoo Studio or a module would: every record reads it, `default` until written. */
  defineField(model: string, field: string, defaultValue: OdooValue = false): void {
    let fields = this.addedFields.get(model);
    if (!fields) this.addedFields.set(model, (fields = new Map()));
    fields.set(field, defaultValue);
    for (const row of this.table(model).values()) if (!(field in row)) row[field] = defaultValue;
  }

  /** The stored row, as `read` would answer it. */
  row(model: string, id: number): Row | undefined {
    return this.table(model).get(id);
  }

  rows(model: string): Row[] {
    return [...this.table(model).values()];
  }

  // ---- the HTTP API ----

  protected async handle(req: IncomingMessage, body: string, res: ServerResponse): Promise<void> {
    const failure = this.faults.failNext.shift();
    if (failure !== undefined) {
      // Proxies in front of Odoo (Odoo.sh, nginx) answer these, not Odoo's JSON-RPC layer.
      res.writeHead(failure, { 'content-type': 'text/html', ...(failure === 429 ? { 'retry-after': '2' } : {}) });
      res.end(`<html><body>${failure}</body></html>`);
      return;
    }
    if (req.method !== 'POST' || new URL(req.url ?? '/', 'http://fake').pathname !== '/jsonrpc') {
      res.writeHead(404, { 'content-type': 'text/html' }).end('<h1>Not Found</h1>');
      return;
    }
    const call = JSON.parse(body) as { id?: OdooValue; params?: { service?: string; method?: string; args?: OdooValue[] } };
    const id = call.id ?? null;
    try {
      const result = this.service(call.params?.service, call.params?.method, call.params?.args ?? []);
      const modelMethod = call.params?.method === 'execute_kw' ? String(call.params.args?.[4]) : '';
      const drops = this.dropAnswers.get(modelMethod) ?? 0;
      if (drops > 0) {
        this.dropAnswers.set(modelMethod, drops - 1);
        req.socket.destroy();
        return;
      }
      sendJson(res, 200, { jsonrpc: '2.0', id, result });
    } catch (err) {
      const [name, message] = err instanceof OdooError ? [err.exception, err.message]
        : err instanceof DomainError ? ['builtins.ValueError', err.message]
          : ['builtins.Exception', String(err)];
      sendJson(res, 200, {
        jsonrpc: '2.0', id,
        error: { code: 200, message: 'Odoo Server Error', data: { name, debug: `Traceback (most recent call last):\n${name}: ${message}`, message, arguments: [message], context: {} } },
      });
    }
  }

  private service(service: string | undefined, method: string | undefined, args: OdooValue[]): OdooValue {
    if (service === 'common' && method === 'version') return { server_version: '17.0', server_version_info: [17, 0, 0, 'final', 0, ''], server_serie: '17.0', protocol_version: 1 };
    if (service === 'common' && method === 'authenticate') {
      const [db, login, key] = args;
      return db === this.db && login === this.login && key === this.apiKey && !this.faults.revoked ? ODOO_UID : false;
    }
    if (service === 'object' && method === 'execute_kw') {
      const [db, uid, key, model, modelMethod, modelArgs, kwargs] = args;
      if (db !== this.db || uid !== ODOO_UID || key !== this.apiKey || this.faults.revoked) throw new OdooError('odoo.exceptions.AccessDenied', 'Access Denied');
      if (typeof model !== 'string' || typeof modelMethod !== 'string') throw new OdooError('builtins.TypeError', 'execute_kw needs a model and a method');
      if (this.deniedModels.has(model)) {
        throw new OdooError('odoo.exceptions.AccessError', `You are not allowed to access '${model}' records.\n\nThis operation is allowed for the following groups:\n\t- Accounting/Billing`);
      }
      this.calls.push({ model, method: modelMethod, args: (modelArgs ?? []) as OdooValue[] });
      return this.dispatch(model, modelMethod, (modelArgs ?? []) as OdooValue[], (kwargs ?? {}) as Record<string, OdooValue>);
    }
    throw new OdooError('builtins.NameError', `unknown service or method ${service}.${method}`);
  }

  private dispatch(model: string, method: string, args: OdooValue[], kwargs: Record<string, OdooValue>): OdooValue {
    if (!this.tables.has(model) && !KNOWN_MODELS.has(model)) throw new OdooError('builtins.KeyError', `'${model}'`);
    const ids = (): number[] => asIds(args[0]);
    switch (method) {
      case 'search_read': {
        const domain = (args[0] ?? kwargs['domain'] ?? []) as Domain;
        const fields = (args[1] ?? kwargs['fields'] ?? null) as string[] | null;
        const found = this.search(model, domain, kwargs['order'] as string | undefined, Number(kwargs['offset'] ?? 0), kwargs['limit'] as number | undefined);
        return found.map((r) => project(r, fields));
      }
      case 'search': return this.search(model, (args[0] ?? []) as Domain, kwargs['order'] as string | undefined, Number(kwargs['offset'] ?? 0), kwargs['limit'] as number | undefined).map((r) => r.id);
      case 'search_count': return this.search(model, (args[0] ?? []) as Domain, undefined, 0, undefined).length;
      case 'read': {
        const fields = (args[1] ?? kwargs['fields'] ?? null) as string[] | null;
        return ids().flatMap((id) => {
          const row = this.table(model).get(id);
          return row ? [project(row, fields)] : [];
        });
      }
      case 'create': {
        const context = (kwargs['context'] ?? {}) as Record<string, OdooValue>;
        if (Array.isArray(args[0])) return (args[0] as Record<string, OdooValue>[]).map((vals) => this.create(model, vals, context));
        return this.create(model, (args[0] ?? {}) as Record<string, OdooValue>, context);
      }
      case 'write': {
        for (const id of ids()) this.write(model, id, (args[1] ?? {}) as Record<string, OdooValue>);
        return true;
      }
      case 'action_post': return this.post(model, ids());
      case 'button_draft': return this.resetToDraft(model, ids());
      case 'button_cancel': return this.cancel(model, ids());
      case 'action_create_payments': return this.createPayments(ids());
      default: throw new OdooError('builtins.AttributeError', `The method '${method}' does not exist on the model '${model}'`);
    }
  }

  private search(model: string, domain: Domain, order: string | undefined, offset: number, limit: number | undefined): Row[] {
    const rows = this.rows(model).filter((r) => r['active'] !== false && matchesDomain(r, domain));
    const sorted = sortRows(rows, order) as Row[];
    return sorted.slice(offset, limit ? offset + limit : undefined);
  }

  private create(model: string, vals: Record<string, OdooValue>, context: Record<string, OdooValue>): number {
    switch (model) {
      case 'res.partner':
        if (!vals['name']) throw new OdooError('odoo.exceptions.ValidationError', 'Contacts require a name');
        return this.insert(model, { name: vals['name'], email: vals['email'] ?? false, ref: vals['ref'] ?? false, customer_rank: vals['customer_rank'] ?? 0, credit_limit: vals['credit_limit'] ?? 0, active: true, is_company: vals['is_company'] ?? true });
      case 'account.move': return this.createInvoice(vals);
      case 'account.payment': return this.insert(model, {
        name: '/', state: 'draft', payment_type: vals['payment_type'] ?? 'inbound', partner_type: vals['partner_type'] ?? 'customer',
        partner_id: this.m2o('res.partner', vals['partner_id']), amount: vals['amount'] ?? 0, currency_id: this.m2o('res.currency', vals['currency_id'] ?? this.companyCurrency()),
        date: vals['date'] ?? this.today(), ref: vals['ref'] ?? false, journal_id: this.m2o('account.journal', vals['journal_id'] ?? this.bankJournal), reconciled_invoice_ids: [],
      });
      case 'account.payment.register': {
        if (context['active_model'] !== 'account.move') throw userError('The register payment wizard should only be called on account.move records.');
        const invoices = asIds(context['active_ids']).map((id) => this.table('account.move').get(id));
        if (invoices.length === 0 || invoices.some((m) => !m || m['state'] !== 'posted')) throw userError('You can only register payment for posted journal entries.');
        if (invoices.every((m) => m!['payment_state'] === 'paid')) throw userError("You can't register a payment because there is nothing left to pay on the selected journal items.");
        const residual = invoices.reduce((sum, m) => sum + Number(m!['amount_residual']), 0);
        return this.insert(model, {
          amount: vals['amount'] ?? residual, payment_date: vals['payment_date'] ?? this.today(), communication: vals['communication'] ?? false,
          journal_id: vals['journal_id'] ?? this.bankJournal, invoice_ids: invoices.map((m) => m!.id),
        });
      }
      default: throw new OdooError('odoo.exceptions.AccessError', `You are not allowed to create '${model}' records.`);
    }
  }

  private createInvoice(vals: Record<string, OdooValue>): number {
    if (vals['move_type'] !== 'out_invoice') throw userError('This fake only keeps customer invoices (move_type out_invoice).');
    const currency = this.table('res.currency').get(Number(vals['currency_id'] ?? this.companyCurrency()));
    if (!currency) throw new OdooError('odoo.exceptions.MissingError', 'Record does not exist or has been deleted.\n(Record: res.currency)');
    const id = this.insert('account.move', {
      name: '/', move_type: 'out_invoice', state: 'draft', payment_state: 'not_paid', ref: vals['ref'] ?? false,
      partner_id: vals['partner_id'] ? this.m2o('res.partner', vals['partner_id']) : false,
      currency_id: [currency.id, String(currency['name'])], journal_id: this.m2o('account.journal', this.saleJournal),
      invoice_date: vals['invoice_date'] ?? false, invoice_date_due: vals['invoice_date_due'] ?? false,
      invoice_line_ids: [], line_ids: [], amount_untaxed: 0, amount_tax: 0, amount_total: 0, amount_residual: 0,
    });
    this.setLines(id, (vals['invoice_line_ids'] ?? []) as OdooValue[]);
    return id;
  }

  /** Applies one2many commands ([0, 0, vals] creates a line) and recomputes the amounts and the journal lines. */
  private setLines(moveId: number, commands: OdooValue[]): void {
    const move = this.table('account.move').get(moveId)!;
    const decimals = Number(this.table('res.currency').get((move['currency_id'] as [number, string])[0])!['decimal_places']);
    const round = (x: number) => Math.round(x * 10 ** decimals) / 10 ** decimals;
    const productLines = asIds(move['invoice_line_ids']);
    for (const command of commands) {
      if (!Array.isArray(command) || command[0] !== 0) throw userError('Only [0, 0, values] line commands are supported by this fake.');
      const vals = command[2] as Record<string, OdooValue>;
      const quantity = Number(vals['quantity'] ?? 1);
      const priceUnit = Number(vals['price_unit'] ?? 0);
      const subtotal = round(quantity * priceUnit);
      productLines.push(this.insert('account.move.line', {
        move_id: [moveId, String(move['name'])], name: vals['name'] ?? false, quantity, price_unit: priceUnit, price_subtotal: subtotal, price_total: subtotal,
        display_type: 'product', account_type: 'income', debit: 0, credit: subtotal,
      }));
    }
    const total = round(productLines.reduce((sum, id) => sum + Number(this.table('account.move.line').get(id)!['price_subtotal']), 0));
    for (const old of asIds(move['line_ids'])) if (!productLines.includes(old)) this.table('account.move.line').delete(old);
    const receivable = this.insert('account.move.line', {
      move_id: [moveId, String(move['name'])], name: false, quantity: 1, price_unit: 0, price_subtotal: 0, price_total: 0,
      display_type: 'payment_term', account_type: 'asset_receivable', debit: total, credit: 0,
    });
    this.write('account.move', moveId, { invoice_line_ids: productLines, line_ids: [...productLines, receivable], amount_untaxed: total, amount_tax: 0, amount_total: total, amount_residual: total }, true);
  }

  private post(model: string, ids: number[]): boolean {
    if (model === 'account.payment') {
      for (const id of ids) {
        const payment = this.table(model).get(id);
        if (!payment || payment['state'] !== 'draft') throw userError('Only a draft payment can be posted.');
        this.write(model, id, { state: 'posted', name: this.nextNumber('payment') }, true);
      }
      return true;
    }
    if (model !== 'account.move') throw new OdooError('builtins.AttributeError', `The method 'action_post' does not exist on the model '${model}'`);
    for (const id of ids) {
      const move = this.table(model).get(id);
      if (!move) throw new OdooError('odoo.exceptions.MissingError', 'Record does not exist or has been deleted.');
      if (move['state'] !== 'draft') throw userError(`The entry ${String(move['name'])} (id ${id}) must be in draft.`);
      if (!move['partner_id']) throw userError("The field 'Customer' is required, please complete it to validate the Customer Invoice.");
      if (asIds(move['invoice_line_ids']).length === 0) throw userError('You need to add a line before posting.');
      const lines = asIds(move['line_ids']).map((l) => this.table('account.move.line').get(l)!);
      const debit = lines.reduce((s, l) => s + Number(l['debit']), 0);
      const credit = lines.reduce((s, l) => s + Number(l['credit']), 0);
      if (Math.abs(debit - credit) > 1e-9) throw userError(`The move (${String(move['name'])}) is not balanced.\nThe total of debits equals ${debit} and the total of credits equals ${credit}.`);
      const invoiceDate = move['invoice_date'] || this.today();
      this.write(model, id, {
        state: 'posted', name: this.nextNumber('invoice'), invoice_date: invoiceDate, invoice_date_due: move['invoice_date_due'] || invoiceDate,
        amount_residual: move['amount_total'] ?? 0, payment_state: 'not_paid',
      }, true);
    }
    return true;
  }

  private resetToDraft(model: string, ids: number[]): boolean {
    for (const id of ids) {
      const move = this.table(model).get(id);
      if (!move) throw new OdooError('odoo.exceptions.MissingError', 'Record does not exist or has been deleted.');
      if (move['payment_state'] === 'paid' || move['payment_state'] === 'partial') {
        throw userError('You cannot reset to draft an entry having reconciled payments: unreconcile them first.');
      }
      this.write(model, id, { state: 'draft' }, true);
    }
    return true;
  }

  private cancel(model: string, ids: number[]): boolean {
    for (const id of ids) {
      const move = this.table(model).get(id);
      if (!move) throw new OdooError('odoo.exceptions.MissingError', 'Record does not exist or has been deleted.');
      if (move['state'] !== 'draft') throw userError('Only draft journal entries can be cancelled.');
      this.write(model, id, { state: 'cancel' }, true);
    }
    return true;
  }

  /** The register-payment wizard: one posted payment, reconciled with the invoices oldest due first. */
  private createPayments(wizardIds: number[]): OdooValue {
    const wizard = this.table('account.payment.register').get(wizardIds[0] ?? 0);
    if (!wizard) throw new OdooError('odoo.exceptions.MissingError', 'Record does not exist or has been deleted.');
    const invoices = asIds(wizard['invoice_ids']).map((id) => this.table('account.move').get(id)!)
      .sort((a, b) => String(a['invoice_date_due']).localeCompare(String(b['invoice_date_due'])) || a.id - b.id);
    const first = invoices[0]!;
    const paymentId = this.insert('account.payment', {
      name: this.nextNumber('payment'), state: 'posted', payment_type: 'inbound', partner_type: 'customer', partner_id: first['partner_id'] ?? false,
      amount: wizard['amount'] ?? 0, currency_id: first['currency_id'] ?? false, date: wizard['payment_date'] ?? this.today(), ref: wizard['communication'] ?? false,
      journal_id: this.m2o('account.journal', wizard['journal_id']), reconciled_invoice_ids: [],
    });
    let left = Number(wizard['amount']);
    const reconciled: number[] = [];
    for (const invoice of invoices) {
      if (left <= 1e-9) break;
      const residual = Number(invoice['amount_residual']);
      if (residual <= 1e-9) continue;
      const applied = Math.min(residual, left);
      left -= applied;
      const remaining = Math.round((residual - applied) * 1e6) / 1e6;
      this.write('account.move', invoice.id, { amount_residual: remaining, payment_state: remaining <= 1e-9 ? 'paid' : 'partial' }, true);
      reconciled.push(invoice.id);
    }
    this.write('account.payment', paymentId, { reconciled_invoice_ids: reconciled }, true);
    return { name: 'Payments', type: 'ir.actions.act_window', res_model: 'account.payment', context: { create: false }, view_mode: 'form', res_id: paymentId };
  }

  // ---- storage ----

  private table(model: string): Map<number, Row> {
    let table = this.tables.get(model);
    if (!table) this.tables.set(model, (table = new Map()));
    return table;
  }

  private insert(model: string, vals: OdooRow): number {
    const id = this.nextId++;
    const stamp = this.stamp();
    const added = Object.fromEntries(this.addedFields.get(model) ?? []);
    this.table(model).set(id, { ...added, ...vals, id, display_name: vals['name'] ?? false, create_date: stamp, write_date: stamp });
    return id;
  }

  /** `system` writes are the ORM's own (computed fields, state changes); user writes to posted entries are refused. */
  private write(model: string, id: number, vals: Record<string, OdooValue>, system = false): void {
    const row = this.table(model).get(id);
    if (!row) throw new OdooError('odoo.exceptions.MissingError', `Record does not exist or has been deleted.\n(Record: ${model}(${id},), User: ${ODOO_UID})`);
    if (!system && model === 'account.move' && row['state'] !== 'draft' && Object.keys(vals).some((k) => !['ref', 'narration'].includes(k))) {
      throw userError('You cannot modify a posted entry of this journal.');
    }
    const m2oFields: Record<string, string> = { partner_id: 'res.partner', currency_id: 'res.currency' };
    const next = Object.fromEntries(Object.entries(vals).map(([k, v]) => [k, m2oFields[k] && typeof v === 'number' ? this.m2o(m2oFields[k]!, v) : v]));
    if (model === 'account.move' && 'invoice_line_ids' in next && !system) {
      const commands = next['invoice_line_ids'] as OdooValue[];
      delete next['invoice_line_ids'];
      Object.assign(row, next, { write_date: this.stamp() });
      this.setLines(id, commands);
      return;
    }
    Object.assign(row, next, { write_date: this.stamp(), ...('name' in next ? { display_name: next['name'] ?? false } : {}) });
  }

  private companyCurrency(): number {
    return (this.rows('res.company')[0]!['currency_id'] as [number, string])[0];
  }

  private m2o(model: string, id: OdooValue | undefined): OdooValue {
    const row = typeof id === 'number' ? this.table(model).get(id) : undefined;
    if (typeof id === 'number' && !row) throw new OdooError('odoo.exceptions.MissingError', `Record does not exist or has been deleted.\n(Record: ${model}(${id},))`);
    return row ? [row.id, String(row['name'])] : false;
  }

  private nextNumber(kind: 'invoice' | 'payment'): string {
    this.sequence[kind] += 1;
    const year = this.now().getUTCFullYear();
    return `${kind === 'invoice' ? 'INV' : 'PBNK1'}/${year}/${String(this.sequence[kind]).padStart(5, '0')}`;
  }

  /** Odoo's datetime format: UTC, to the second, space-separated. */
  private stamp(): string {
    return this.now().toISOString().slice(0, 19).replace('T', ' ');
  }

  private today(): string {
    return this.now().toISOString().slice(0, 10);
  }
}

const KNOWN_MODELS = new Set(['res.partner', 'res.currency', 'res.company', 'account.journal', 'account.move', 'account.move.line', 'account.payment', 'account.payment.register']);

function asIds(value: OdooValue | undefined): number[] {
  if (typeof value === 'number') return [value];
  return Array.isArray(value) ? value.filter((v): v is number => typeof v === 'number') : [];
}

function project(row: Row, fields: readonly string[] | null): OdooRow {
  if (!fields || fields.length === 0) return { ...row };
  for (const f of fields) if (!(f in row)) throw new OdooError('builtins.ValueError', `Invalid field '${f}'`);
  return Object.fromEntries([['id', row.id], ...fields.map((f) => [f, row[f] ?? false])]);
}
