import { GraphQLScalarType } from 'graphql';
import { fieldError, illegalTransition, notFound } from '../../lib/errors';
import { parsePage, toConnection } from '../../lib/pagination';
import { validate } from '../../lib/validation';
import { type AccountModel, CLOSED_STAGES, type ExternalRefModel } from './connector/models';
import { MissingParent } from './connector/reference-store';
import type { CrmContext } from './context';
import type { Resolvers } from './generated/resolvers';
import { createAccountInput, createContactInput, createOpportunityInput, updateAccountInput, updateContactInput } from './validation';

async function externalIds(ctx: CrmContext, entity: { id: string; remoteId: string; updatedAt: string }): Promise<ExternalRefModel[]> {
  const links = await ctx.loaders.externalIds.load(entity.id);
  return [{ system: 'CRM', remoteId: entity.remoteId, remoteUpdatedAt: entity.updatedAt }, ...links.map(({ entityId: _e, ...ref }) => ref)];
}

/** The CRM vendor's record behind an account, contact or opportunity (a tenant has one CRM connection, so one such record). */
async function crmRemoteData(ctx: CrmContext, id: string): Promise<Record<string, unknown> | null> {
  return (await ctx.loaders.remoteData.load(id)).find((r) => r.system === 'CRM')?.remoteData ?? null;
}

async function accountOf(ctx: CrmContext, id: string): Promise<AccountModel> {
  const account = await ctx.loaders.account.load(id);
  if (!account) throw notFound('Account', id);
  return account;
}

async function mapMissingParent<T>(write: Promise<T>): Promise<T> {
  try {
    return await write;
  } catch (err) {
    if (err instanceof MissingParent) throw notFound('Account', err.id);
    throw err;
  }
}

/** JSON values pass through as they are (the vendor's record); input is not accepted anywhere. */
const JSONScalar = new GraphQLScalarType({
  name: 'JSON',
  description: "A JSON value (a vendor's record as the vendor sent it).",
  serialize: (value) => value,
  parseValue: () => {
    throw new TypeError('JSON is an output type only');
  },
});

export const resolvers: Resolvers = {
  JSON: JSONScalar,
  Query: {
    account: (_p, { id }, ctx) => ctx.loaders.account.load(id),
    accounts: async (_p, { filter, ...list }, ctx) => {
      const page = parsePage(list);
      return toConnection(await ctx.crm.listAccounts(filter ?? {}, page), page);
    },
    contact: (_p, { id }, ctx) => ctx.loaders.contact.load(id),
    contacts: async (_p, { filter, ...list }, ctx) => {
      const page = parsePage(list);
      return toConnection(await ctx.crm.listContacts(filter ?? {}, page), page);
    },
    opportunity: (_p, { id }, ctx) => ctx.loaders.opportunity.load(id),
    opportunities: async (_p, { filter, ...list }, ctx) => {
      const page = parsePage(list);
      return toConnection(await ctx.crm.listOpportunities(filter ?? {}, page), page);
    },
  },
  Mutation: {
    createAccount: (_p, { input }, ctx) => {
      const v = validate(createAccountInput, input);
      return ctx.crm.createAccount({
        name: v.name, domain: v.domain ?? null, industry: v.industry ?? null, lifecycleStage: v.lifecycleStage ?? 'LEAD',
        billingAddress: v.billingAddress ? { ...v.billingAddress, line2: v.billingAddress.line2 ?? null, region: v.billingAddress.region ?? null, postalCode: v.billingAddress.postalCode ?? null } : null,
        owner: v.owner ?? null,
      });
    },
    updateAccount: async (_p, { id, input }, ctx) => {
      const v = validate(updateAccountInput, input);
      const updated = await ctx.crm.updateAccount(id, {
        ...v,
        billingAddress: v.billingAddress ? { ...v.billingAddress, line2: v.billingAddress.line2 ?? null, region: v.billingAddress.region ?? null, postalCode: v.billingAddress.postalCode ?? null } : v.billingAddress,
        lifecycleStage: v.lifecycleStage ?? undefined,
      });
      if (!updated) throw notFound('Account', id);
      return updated;
    },
    createContact: (_p, { input }, ctx) => {
      const v = validate(createContactInput, input);
      return mapMissingParent(ctx.crm.createContact({ ...v, phone: v.phone ?? null, title: v.title ?? null }));
    },
    updateContact: async (_p, { id, input }, ctx) => {
      const updated = await ctx.crm.updateContact(id, validate(updateContactInput, input));
      if (!updated) throw notFound('Contact', id);
      return updated;
    },
    createOpportunity: (_p, { input }, ctx) => {
      const v = validate(createOpportunityInput, input);
      return mapMissingParent(
        ctx.crm.createOpportunity({ ...v, closeDate: v.closeDate ?? null, planCode: v.planCode ?? null, stage: v.stage ?? 'PROSPECTING' }),
      );
    },
    moveOpportunityStage: async (_p, { id, stage }, ctx) => {
      const current = await ctx.loaders.opportunity.load(id);
      if (!current) throw notFound('Opportunity', id);
      if (CLOSED_STAGES.includes(current.stage) && current.stage !== stage) {
        throw illegalTransition('CRM.OPPORTUNITY_CLOSED', `Opportunity "${id}" is ${current.stage} and cannot move to ${stage}`);
      }
      const moved = await ctx.crm.setOpportunityStage(id, stage);
      if (!moved) throw notFound('Opportunity', id);
      return moved;
    },
  },
  Account: {
    // Another system refers to this account. Its CRM fields are nullable (finance and billing partners reach it), so a
    // missing account would be a silent null: say so on the path instead.
    __resolveReference: async (ref, ctx) => {
      const account = await ctx.loaders.account.load(ref.id);
      if (!account) throw fieldError('UNRESOLVED_REFERENCE', `Account "${ref.id}" is referred to by another system but the CRM does not have it`);
      return account;
    },
    customFields: (a) => Object.entries(a.customFields).sort(([x], [y]) => x.localeCompare(y)).map(([name, value]) => ({ name, value })),
    // The CRM vendor's record (a tenant has one CRM connection, so one CRM record per account).
    remoteData: (a, _args, ctx) => crmRemoteData(ctx, a.id),
    externalIds: (a, _args, ctx) => externalIds(ctx, a),
    contacts: async (a, list, ctx) => {
      const page = parsePage(list);
      return toConnection(await ctx.loaders.contactPages.load({ parentId: a.id, args: page }), page);
    },
    opportunities: async (a, { filter, ...list }, ctx) => {
      const page = parsePage(list);
      const rows = await ctx.loaders.opportunityPages.load({ parentId: a.id, args: { page, filter: { stages: filter?.stages ?? null, open: filter?.open ?? null } } });
      return toConnection(rows, page);
    },
  },
  Contact: {
    __resolveReference: (ref, ctx) => ctx.loaders.contact.load(ref.id),
    account: (c, _args, ctx) => accountOf(ctx, c.accountId),
    externalIds: (c, _args, ctx) => externalIds(ctx, c),
    remoteData: (c, _args, ctx) => crmRemoteData(ctx, c.id),
  },
  Opportunity: {
    __resolveReference: (ref, ctx) => ctx.loaders.opportunity.load(ref.id),
    account: (o, _args, ctx) => accountOf(ctx, o.accountId),
    externalIds: (o, _args, ctx) => externalIds(ctx, o),
    remoteData: (o, _args, ctx) => crmRemoteData(ctx, o.id),
  },
};
