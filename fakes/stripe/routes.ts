import type Stripe from 'stripe';
import { account } from './objects';
import type { AccountStore, WriteContext } from './store';
import { type Params, invalid, listPage, missing } from './wire';

export interface RouteRequest {
  store: AccountStore;
  params: Params;
  /** The path's captured ids, in order. */
  ids: string[];
  ctx: WriteContext;
  /** The path without query, for list objects' `url`. */
  path: string;
}

export interface Route {
  method: 'GET' | 'POST' | 'DELETE';
  pattern: RegExp;
  handle(r: RouteRequest): object;
}

const ID = '([A-Za-z0-9_]+)';
const route = (method: Route['method'], path: string, handle: Route['handle']): Route => ({
  method, pattern: new RegExp(`^${path.replace(/:id/g, ID)}$`), handle,
});

const newestFirst = <T>(m: ReadonlyMap<string, T>) => [...m.values()].reverse();
const id0 = (r: RouteRequest) => r.ids[0] ?? '';
const ref = (v: string | { id: string } | null) => (v === null ? null : typeof v === 'string' ? v : v.id);

/** The endpoints of Stripe's API v1 the adapter uses, plus `GET /v1/events` for polling. */
export const routes: Route[] = [
  route('GET', '/v1/account', (r) => account(r.store.id)),

  route('POST', '/v1/customers', (r) => r.store.createCustomer(r.ctx, r.params)),
  route('GET', '/v1/customers', (r) => {
    const email = r.params.str('email');
    return listPage(newestFirst(r.store.customers).filter((c) => !email || c.email === email), r.params, r.path);
  }),
  route('GET', '/v1/customers/:id', (r): Stripe.Customer | Stripe.DeletedCustomer =>
    r.store.deletedCustomers.has(id0(r)) ? { id: id0(r), object: 'customer', deleted: true } : r.store.customer(id0(r))),
  route('POST', '/v1/customers/:id', (r) => r.store.updateCustomer(r.ctx, id0(r), r.params)),
  route('DELETE', '/v1/customers/:id', (r) => r.store.deleteCustomer(r.ctx, id0(r))),

  route('POST', '/v1/products', (r) => r.store.createProduct(r.ctx, r.params)),
  route('GET', '/v1/products', (r) => {
    const active = r.params.bool('active');
    return listPage(newestFirst(r.store.products).filter((p) => active === undefined || p.active === active), r.params, r.path);
  }),
  route('GET', '/v1/products/:id', (r) => r.store.product(id0(r))),

  route('POST', '/v1/prices', (r) => r.store.createPrice(r.ctx, r.params)),
  route('GET', '/v1/prices', (r) => {
    const [product, active, currency] = [r.params.str('product'), r.params.bool('active'), r.params.str('currency')];
    const all = newestFirst(r.store.prices).filter((p) =>
      (!product || p.product === product) && (active === undefined || p.active === active) && (!currency || p.currency === currency.toLowerCase()));
    return listPage(all, r.params, r.path);
  }),
  route('GET', '/v1/prices/:id', (r) => r.store.price(id0(r))),

  route('POST', '/v1/subscriptions', (r) => r.store.createSubscription(r.ctx, r.params)),
  route('GET', '/v1/subscriptions', (r) => {
    const [customer, price, status] = [r.params.str('customer'), r.params.str('price'), r.params.str('status')];
    const all = newestFirst(r.store.subscriptions).filter((s) =>
      (!customer || s.customer === customer) && (!price || s.items.data.some((i) => i.price.id === price)) &&
      // Stripe leaves canceled subscriptions out unless asked for them.
      (status === 'all' || (status ? s.status === status : s.status !== 'canceled')));
    return listPage(all, r.params, r.path);
  }),
  route('GET', '/v1/subscriptions/:id', (r) => r.store.subscription(id0(r))),
  route('POST', '/v1/subscriptions/:id', (r) => r.store.updateSubscription(r.ctx, id0(r), r.params)),
  route('DELETE', '/v1/subscriptions/:id', (r) => r.store.cancelSubscription(r.ctx, id0(r))),

  route('POST', '/v1/invoices', (r) => r.store.createInvoice(r.ctx, r.params)),
  route('GET', '/v1/invoices', (r) => {
    const [customer, subscription, status] = [r.params.str('customer'), r.params.str('subscription'), r.params.str('status')];
    const all = newestFirst(r.store.invoices).filter((i) =>
      (!customer || i.customer === customer) && (!status || i.status === status) &&
      (!subscription || ref(i.parent?.subscription_details?.subscription ?? null) === subscription));
    return listPage(all, r.params, r.path);
  }),
  route('GET', '/v1/invoices/:id', (r) => r.store.invoice(id0(r))),
  route('POST', '/v1/invoices/:id/finalize', (r) => r.store.finalizeInvoice(r.ctx, id0(r))),
  route('POST', '/v1/invoices/:id/pay', (r) => {
    // Only out-of-band payments: the fake holds no payment methods to charge.
    if (r.params.bool('paid_out_of_band') !== true) throw invalid('This customer has no attached payment source or default payment method.', undefined, 'invoice_no_customer_line_items');
    return r.store.markPaid(r.ctx, id0(r));
  }),
  route('GET', '/v1/invoice_payments', (r) => {
    const invoice = r.params.str('invoice');
    return listPage(newestFirst(r.store.invoicePayments).filter((p) => !invoice || p.invoice === invoice), r.params, r.path);
  }),
  route('GET', '/v1/invoice_payments/:id', (r) => {
    const payment = r.store.invoicePayments.get(id0(r));
    if (!payment) throw missing('invoice_payment', id0(r));
    return payment;
  }),
  route('POST', '/v1/invoiceitems', (r) => r.store.createInvoiceItem(r.params)),

  route('GET', '/v1/events', (r) => {
    const type = r.params.str('type');
    return listPage(r.store.events.filter((e) => !type || e.type === type), r.params, r.path);
  }),
  route('GET', '/v1/events/:id', (r) => {
    const event = r.store.events.find((e) => e.id === id0(r));
    if (!event) throw missing('event', id0(r));
    return event;
  }),
];

/**
 * Applies `expand[]` paths (`product`, `data.product`, `items.data.price.product`): an id string at the end of a path
 * is replaced by the object it names. Works on the JSON copy about to be sent, so stored objects keep their ids.
 */
export function expand(body: unknown, paths: readonly string[], lookup: (id: string) => unknown): unknown {
  const copy: unknown = structuredClone(body);
  for (const path of paths) walk(copy, path.split('.'), lookup);
  return copy;
}

function walk(node: unknown, keys: readonly string[], lookup: (id: string) => unknown): void {
  if (Array.isArray(node)) {
    for (const item of node) walk(item, keys, lookup);
    return;
  }
  const [key, ...rest] = keys;
  if (key === undefined || typeof node !== 'object' || node === null) return;
  const record = node as Record<string, unknown>;
  const value = record[key];
  if (rest.length === 0) {
    if (typeof value === 'string') record[key] = lookup(value) ?? value;
    return;
  }
  walk(value, rest, lookup);
}
