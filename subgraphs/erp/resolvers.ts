import { badUserInput, illegalTransition, notFound } from '../../lib/errors';
import { parsePage, toConnection } from '../../lib/pagination';
import { validate } from '../../lib/validation';
import { MissingRecord, RuleViolation } from './connector/errors';
import { type ExternalRefModel, type FinanceAccountModel, type InvoiceFilter, notACustomer } from './connector/models';
import type { ErpContext } from './context';
import type { Resolvers } from './generated/resolvers';
import { createInvoiceInput, invoiceFilter, recordPaymentInput, setCreditLimitInput, voidReason } from './validation';

async function externalIds(ctx: ErpContext, entity: { id: string; remoteId: string; updatedAt: string }): Promise<ExternalRefModel[]> {
  const links = await ctx.loaders.externalIds.load(entity.id);
  return [{ system: 'ERP', remoteId: entity.remoteId, remoteUpdatedAt: entity.updatedAt }, ...links.map(({ entityId: _e, ...ref }) => ref)];
}

/** A record another record points at; missing only if the data is broken, so the answer is NOT_FOUND, not null. */
async function required<T>(load: Promise<T | null>, type: string, id: string): Promise<T> {
  const found = await load;
  if (!found) throw notFound(type, id);
  return found;
}

/** Money written to an account must be in the account's currency (the ledger never converts). */
async function requireAccountCurrency(ctx: ErpContext, accountId: string, currency: string, field: string): Promise<FinanceAccountModel> {
  const account = await required(ctx.loaders.account.load(accountId), 'Account', accountId);
  if (account.currency !== currency) throw badUserInput(field, `must be ${account.currency}, the account's currency`);
  return account;
}

/**
 * Runs a connector write. Its rule errors become GraphQL errors; after it succeeds, every read this request cached
 * is dropped so later fields (and later mutations of the same operation) see the new state.
 */
async function write<T>(ctx: ErpContext, run: () => Promise<T>): Promise<T> {
  try {
    const result = await run();
    for (const loader of Object.values(ctx.loaders)) loader.clearAll();
    return result;
  } catch (err) {
    if (err instanceof MissingRecord) throw notFound(err.type, err.id);
    if (err instanceof RuleViolation) throw illegalTransition(err.domainCode, err.message);
    throw err;
  }
}

function parseInvoiceFilter(filter: InvoiceFilter | null | undefined): InvoiceFilter {
  const f = validate(invoiceFilter, filter ?? {}, 'filter');
  return { accountId: f.accountId ?? null, statuses: f.statuses ?? null, dueBefore: f.dueBefore ?? null };
}

export const resolvers: Resolvers = {
  Query: {
    invoice: (_p, { id }, ctx) => ctx.loaders.invoice.load(id),
    invoices: async (_p, { filter, ...list }, ctx) => {
      const page = parsePage(list);
      return toConnection(await ctx.erp.listInvoices(parseInvoiceFilter(filter), page), page);
    },
    payment: (_p, { id }, ctx) => ctx.loaders.payment.load(id),
    journalEntries: async (_p, { filter, ...list }, ctx) => {
      const page = parsePage(list);
      return toConnection(await ctx.erp.listJournalEntries({ sourceId: filter?.sourceId ?? null }, page), page, (e) => e.postedAt);
    },
  },
  Mutation: {
    createInvoice: async (_p, { input }, ctx) => {
      const v = validate(createInvoiceInput, input);
      await requireAccountCurrency(ctx, v.accountId, v.currency, 'input.currency');
      const lines = v.lines.map((l) => ({ description: l.description, quantity: l.quantity, unitPriceMinor: l.unitPrice.amountMinor }));
      return write(ctx, () =>
        ctx.erp.createInvoice({ accountId: v.accountId, currency: v.currency, lines, taxRateBps: v.taxRateBps ?? 0, dueInDays: v.dueInDays ?? 30 }),
      );
    },
    postInvoice: (_p, { id }, ctx) => write(ctx, () => ctx.erp.postInvoice(id)),
    voidInvoice: (_p, { id, reason }, ctx) => {
      const why = validate(voidReason, reason, 'reason');
      return write(ctx, () => ctx.erp.voidInvoice(id, why));
    },
    recordPayment: async (_p, { input }, ctx) => {
      const v = validate(recordPaymentInput, input);
      await requireAccountCurrency(ctx, v.accountId, v.amount.currency, 'input.amount.currency');
      return write(ctx, () =>
        ctx.erp.recordPayment({ accountId: v.accountId, amount: v.amount, method: v.method, reference: v.reference ?? null, invoiceIds: v.invoiceIds ?? null }),
      );
    },
    setCreditLimit: async (_p, { input }, ctx) => {
      const v = validate(setCreditLimitInput, input);
      await requireAccountCurrency(ctx, v.accountId, v.creditLimit.currency, 'input.creditLimit.currency');
      return write(ctx, () => ctx.erp.setCreditLimit(v.accountId, v.creditLimit, v.creditStatus ?? null));
    },
  },
  Account: {
    // Ids that are not ERP customers of this tenant (never another tenant's row) get a stub: finance fields null,
    // invoice and payment lists empty, so an account 360 never loses the account.
    __resolveReference: async (ref, ctx) => (await ctx.loaders.account.load(ref.id)) ?? notACustomer(ref.id),
    invoices: async (a, { filter, ...list }, ctx) => {
      const page = parsePage(list);
      const { statuses, dueBefore } = parseInvoiceFilter(filter);
      return toConnection(await ctx.loaders.invoicePages.load({ parentId: a.id, args: { page, filter: { statuses, dueBefore } } }), page);
    },
    payments: async (a, list, ctx) => {
      const page = parsePage(list);
      return toConnection(await ctx.loaders.paymentPages.load({ parentId: a.id, args: page }), page);
    },
  },
  Invoice: {
    __resolveReference: (ref, ctx) => ctx.loaders.invoice.load(ref.id),
    account: (i, _args, ctx) => required(ctx.loaders.account.load(i.accountId), 'Account', i.accountId),
    payments: (i, _args, ctx) => ctx.loaders.applicationsByInvoice.load(i.id),
    externalIds: (i, _args, ctx) => externalIds(ctx, i),
  },
  Payment: {
    __resolveReference: (ref, ctx) => ctx.loaders.payment.load(ref.id),
    account: (p, _args, ctx) => required(ctx.loaders.account.load(p.accountId), 'Account', p.accountId),
    applications: (p, _args, ctx) => ctx.loaders.applicationsByPayment.load(p.id),
    externalIds: (p, _args, ctx) => externalIds(ctx, p),
  },
  PaymentApplication: {
    invoice: (a, _args, ctx) => required(ctx.loaders.invoice.load(a.invoiceId), 'Invoice', a.invoiceId),
    payment: (a, _args, ctx) => required(ctx.loaders.payment.load(a.paymentId), 'Payment', a.paymentId),
  },
  JournalEntry: {
    __resolveReference: (ref, ctx) => ctx.loaders.journalEntry.load(ref.id),
  },
};
