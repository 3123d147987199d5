import { badUserInput, illegalTransition, notFound } from '../../lib/errors';
import { parsePage, toConnection } from '../../lib/pagination';
import { validate } from '../../lib/validation';
import { moneyInput } from '../../lib/money';
import { BillingRuleViolation } from './connector/errors';
import type { BillingAccountModel, BillingSubscriptionModel, ExternalRefModel, PlanModel } from './connector/models';
import { type BillingContext, statusFilter } from './context';
import type { Resolvers } from './generated/resolvers';
import { mrr, priceItems } from './pricing';
import { changeSubscriptionInput, createSubscriptionInput } from './validation';

/** Every account id has a billing view; without a billing customer it simply has no terms and no subscriptions. */
async function accountOf(ctx: BillingContext, id: string): Promise<BillingAccountModel> {
  const customer = await ctx.loaders.customer.load(id);
  return { id, paymentTermsDays: customer?.paymentTermsDays ?? null };
}

async function planOf(ctx: BillingContext, id: string): Promise<PlanModel> {
  const plan = await ctx.loaders.plan.load(id);
  if (!plan) throw notFound('Plan', id);
  return plan;
}

async function liveSubscription(ctx: BillingContext, id: string): Promise<BillingSubscriptionModel> {
  const current = await ctx.loaders.subscription.load(id);
  if (!current) throw notFound('BillingSubscription', id);
  if (current.status === 'CANCELED') throw canceled(id);
  return current;
}

/** Maps billing's rule violations to typed domain errors at the edge. */
async function billingRule<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (err instanceof BillingRuleViolation) throw illegalTransition(err.domainCode, err.message);
    throw err;
  }
}

const canceled = (id: string) => illegalTransition('BILLING.SUBSCRIPTION_CANCELED', `BillingSubscription "${id}" is CANCELED and cannot change`);

/**
 * After a guarded write: null can only mean a concurrent cancel, because subscriptions are never deleted. The
 * loader is refreshed so later fields of the same operation see the write.
 */
function written(ctx: BillingContext, id: string, result: BillingSubscriptionModel | null): BillingSubscriptionModel {
  if (!result) throw canceled(id);
  ctx.loaders.subscription.clear(id).prime(id, result);
  return result;
}

async function externalIds(ctx: BillingContext, s: BillingSubscriptionModel): Promise<ExternalRefModel[]> {
  const links = await ctx.loaders.externalIds.load(s.id);
  return [{ system: 'BILLING', remoteId: s.remoteId, remoteUpdatedAt: s.updatedAt }, ...links.map(({ entityId: _e, ...ref }) => ref)];
}

export const resolvers: Resolvers = {
  Query: {
    plans: (_p, { activeOnly }, ctx) => ctx.billing.listPlans(activeOnly !== false),
    plan: (_p, { id }, ctx) => ctx.loaders.plan.load(id),
    billingSubscription: (_p, { id }, ctx) => ctx.loaders.subscription.load(id),
    billingSubscriptions: async (_p, { filter, first, after }, ctx) => {
      const page = parsePage(first, after);
      return toConnection(await ctx.billing.listSubscriptions(filter ?? {}, page), page.limit);
    },
  },
  Mutation: {
    issueSubscriptionInvoice: async (_p, { subscriptionId }, ctx) => {
      const sub = await liveSubscription(ctx, subscriptionId);
      return billingRule(async () => {
        const issued = await ctx.billing.issueInvoice(subscriptionId, mrr(sub).amountMinor);
        if (!issued) throw notFound('BillingSubscription', subscriptionId);
        return issued;
      });
    },
    recordBillingPayment: async (_p, { invoiceId, amount }, ctx) => {
      const money = validate(moneyInput, amount, 'amount');
      if (money.amountMinor === '0') throw badUserInput('amount.amountMinor', 'must be greater than zero');
      const invoice = await ctx.loaders.issuedInvoice.load(invoiceId);
      if (!invoice) throw notFound('BillingInvoice', invoiceId);
      if (invoice.amount.currency !== money.currency) throw badUserInput('amount.currency', `must be ${invoice.amount.currency}, the invoice's currency`);
      return billingRule(async () => {
        const result = await ctx.billing.recordInvoicePayment(invoiceId, money.amountMinor);
        if (!result) throw notFound('BillingInvoice', invoiceId);
        return result.invoice;
      });
    },
    createBillingSubscription: async (_p, { input }, ctx) => {
      const v = validate(createSubscriptionInput, input);
      const customer = await ctx.loaders.customer.load(v.accountId);
      // Billing only sells to accounts it knows: billing customers come from CRM through account sync (or
      // quote-to-cash). This also keeps a caller from attaching records to an id of another tenant.
      if (!customer) throw notFound('Account', v.accountId);
      if (customer.currency !== v.currency) {
        throw badUserInput('input.currency', `must be ${customer.currency}, the currency of the account's billing customer`);
      }
      const items = await priceItems(ctx.billing, v.currency, v.items);
      const created = await ctx.billing.createSubscription({
        accountId: v.accountId, currency: v.currency, items, trialDays: v.trialDays,
        status: v.trialDays > 0 ? 'TRIALING' : 'ACTIVE', periodStart: new Date().toISOString().slice(0, 10),
      });
      // The account's subscription list has grown.
      ctx.loaders.accountSubscriptions.clearAll();
      return written(ctx, created.id, created);
    },
    changeBillingSubscription: async (_p, { id, input }, ctx) => {
      const v = validate(changeSubscriptionInput, input);
      const current = await liveSubscription(ctx, id);
      const items = await priceItems(ctx.billing, current.currency, v.items);
      return written(ctx, id, await ctx.billing.replaceItems(id, items));
    },
    cancelBillingSubscription: async (_p, { id, atPeriodEnd }, ctx) => {
      await liveSubscription(ctx, id);
      return written(ctx, id, await ctx.billing.cancelSubscription(id, atPeriodEnd === true));
    },
  },
  Account: {
    __resolveReference: (ref, ctx) => accountOf(ctx, ref.id),
    subscriptions: (a, { statuses }, ctx) => ctx.loaders.accountSubscriptions.load({ parentId: a.id, args: statusFilter(statuses) }),
  },
  Invoice: {
    __resolveReference: async (ref, ctx) =>
      (await ctx.loaders.invoice.load(ref.id)) ?? { id: ref.id, subscriptionId: null, billingPeriodStart: null, billingPeriodEnd: null },
    subscription: (i, _args, ctx) => (i.subscriptionId ? ctx.loaders.subscription.load(i.subscriptionId) : null),
    billingStatus: async (i, _args, ctx) => (await ctx.loaders.issuedInvoice.load(i.id))?.status ?? null,
  },
  BillingInvoice: {
    subscription: async (i, _args, ctx) => {
      const sub = await ctx.loaders.subscription.load(i.subscriptionId);
      if (!sub) throw notFound('BillingSubscription', i.subscriptionId);
      return sub;
    },
  },
  Plan: {
    __resolveReference: (ref, ctx) => ctx.loaders.plan.load(ref.id),
  },
  BillingSubscription: {
    __resolveReference: (ref, ctx) => ctx.loaders.subscription.load(ref.id),
    account: (s, _args, ctx) => accountOf(ctx, s.accountId),
    mrr: (s) => mrr(s),
    externalIds: (s, _args, ctx) => externalIds(ctx, s),
  },
  SubscriptionItem: {
    plan: (i, _args, ctx) => planOf(ctx, i.planId),
  },
};
