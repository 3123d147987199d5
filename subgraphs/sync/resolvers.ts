import { enqueueSyncJob } from '../../lib/outbox';
import { badUserInput, forbidden, illegalTransition, notFound } from '../../lib/errors';
import { statusEventScope } from '../../lib/auth/policy';
import { shownMessage } from '../../lib/scoped-message';
import { parsePage, toConnection } from '../../lib/pagination';
import { auditArgumentsFor } from './audit-arguments';
import { reconcileTenant } from './engine/reconcile';
import type { SyncContext } from './context';
import type { Resolvers, SyncState } from './generated/resolvers';
import { connectionMutations, connectionQueries, systemConnection } from './connections/resolvers';
import { mappingMutations } from './connections/mappings';
import { initialSyncMutations, syncJobProgress } from './connections/initial-sync';
import { partnerMutations, partnerQueries } from './partners/resolvers';
import { partnerWebhookDelivery, partnerWebhookEndpoint, partnerWebhookMutations, partnerWebhookQueries } from './partner-webhooks/resolvers';

const SYSTEMS = ['ERP', 'BILLING'] as const;

export const resolvers: Resolvers = {
  Query: {
    ...connectionQueries,
    ...partnerQueries,
    ...partnerWebhookQueries,
    syncJob: (_p, { id }, ctx) => ctx.loaders.job.load(id),
    syncJobs: async (_p, { filter, ...list }, ctx) => {
      const page = parsePage(list);
      return toConnection(await ctx.ledger.listJobs(filter ?? {}, page), page);
    },
    syncEvents: (_p, { after, first }, ctx) => {
      const limit = first ?? 100;
      if (!/^\d{1,18}$/.test(after)) throw badUserInput('after', 'must be an event id');
      if (limit < 1 || limit > 1000) throw badUserInput('first', 'must be between 1 and 1000');
      return ctx.ledger.eventsAfter(after, limit);
    },
    statusEvents: (_p, { after, kinds, first }, ctx) => {
      const limit = first ?? 100;
      if (!/^\d{1,18}$/.test(after)) throw badUserInput('after', 'must be an event id');
      if (limit < 1 || limit > 1000) throw badUserInput('first', 'must be between 1 and 1000');
      for (const kind of kinds) {
        const scope = statusEventScope(kind);
        if (!scope) throw badUserInput('kinds', `unknown status event kind ${kind}`);
        if (!ctx.principal.scopes.has(scope)) throw forbidden(`Requires scope ${scope}`);
      }
      return ctx.ledger.statusEventsAfter(after, kinds, limit);
    },
    auditEntries: async (_p, list, ctx) => {
      const page = parsePage(list);
      if (page.afterId !== null && !/^\d{1,18}$/.test(page.afterId)) throw badUserInput('after', 'is not a cursor this API issued');
      const rows = await ctx.ledger.auditEntries(page.afterId, page.limit);
      const shown = rows.map((r) => ({ ...r, arguments: JSON.stringify(auditArgumentsFor(r.arguments, r.fields, ctx.principal.scopes)) }));
      return toConnection(shown, page);
    },
    latestReconciliation: (_p, _a, ctx) => ctx.ledger.latestReconciliation(),
  },
  Mutation: {
    ...connectionMutations,
    ...mappingMutations,
    ...initialSyncMutations,
    ...partnerMutations,
    ...partnerWebhookMutations,
    replaySyncJob: (_p, { id }, ctx) => ctx.commands.replay(id),
    replayDeadLetters: (_p, { filter }, ctx) => ctx.commands.replayDeadLetters(filter ?? {}),
    requestResync: (_p, { accountId }, ctx) => ctx.commands.requestResync(accountId),
    reconcile: async (_p, _a, ctx) => {
      const report = await reconcileTenant(ctx.db, ctx.deps.systems, ctx.tenant, ctx.correlationId, ctx.deps.connections);
      ctx.deps.wake();
      return report;
    },
    closeOpportunityWon: async (_p, { opportunityId }, ctx) => {
      const crm = ctx.deps.systems(ctx.tenant).crm;
      const [opp] = await crm.opportunitiesByIds([opportunityId]);
      if (!opp) throw notFound('Opportunity', opportunityId);
      if (opp.stage === 'CLOSED_LOST') throw illegalTransition('CRM.OPPORTUNITY_CLOSED', `Opportunity "${opportunityId}" is CLOSED_LOST`);
      if (!opp.planCode) throw illegalTransition('CRM.OPPORTUNITY_WITHOUT_PLAN', `Opportunity "${opportunityId}" names no plan to sell`);
      // The job is the durable intent: enqueued first (one per opportunity, so closing again returns the same job), then
      // the CRM is told through its port. The flow sets the stage itself too, so a crash in between loses nothing and a
      // CRM that cannot join our transaction (a remote one) works the same way.
      const key = `q2c:${opportunityId}`;
      await ctx.db.transaction((tx) =>
        enqueueSyncJob(tx, {
          tenant: ctx.tenant, kind: 'QUOTE_TO_CASH', entityType: 'Opportunity', entityId: opportunityId, sourceSystem: 'CRM', targetSystem: null,
          correlationId: ctx.correlationId, idempotencyKey: key,
          payload: { opportunityId, accountId: opp.accountId, planCode: opp.planCode, amountMinor: opp.amount.amountMinor, currency: opp.amount.currency },
        }),
      );
      if (opp.stage !== 'CLOSED_WON') await crm.setOpportunityStage(opportunityId, 'CLOSED_WON');
      ctx.deps.wake();
      const job = await ctx.ledger.jobByIdempotencyKey(key);
      if (!job) throw notFound('SyncJob', opportunityId);
      return job;
    },
  },
  SystemConnection: systemConnection,
  PartnerWebhookEndpoint: partnerWebhookEndpoint,
  PartnerWebhookDelivery: partnerWebhookDelivery,
  SyncJob: {
    __resolveReference: (ref, ctx) => ctx.loaders.job.load(ref.id),
    history: (j, _a, ctx) => ctx.loaders.history.load(j.id),
    ...syncJobProgress,
    // Recorded messages show each value only to a reader whose scopes may read it (engine/recorded-message.ts).
    lastErrorMessage: (j, _a, ctx) => shownMessage(j.lastErrorMessage, j.lastErrorParts, ctx.principal.scopes),
  },
  SyncJobTransition: {
    message: (e, _a, ctx) => shownMessage(e.message, e.messageParts, ctx.principal.scopes),
  },
  SyncEvent: {
    message: (e, _a, ctx) => shownMessage(e.message, e.messageParts, ctx.principal.scopes),
  },
  Account: {
    __resolveReference: (ref) => ({ id: ref.id }),
    syncStatus: async (a, _args, ctx) => {
      const links = await ctx.loaders.links.load(`Account:${a.id}`);
      // The tenant's connections are cached by the runtime: no statement per account.
      const connections = await Promise.all(SYSTEMS.map((system) => ctx.deps.connections.connectionFor(ctx.tenant, system)));
      return SYSTEMS.map((system, i) => {
        const link = links.find((l) => l.system === system);
        const connection = connections[i];
        return {
          system, state: (link?.state ?? 'NOT_SYNCED') as SyncState, lastSyncedAt: link?.lastSyncedAt ?? null,
          lastError: link ? shownMessage(link.lastError, link.lastErrorParts, ctx.principal.scopes) : null,
          connectionState: connection && connection.adapter !== 'reference' ? connection.state : null,
        };
      });
    },
  },
  Invoice: {
    __resolveReference: (ref) => ref,
    syncStatus: (i, _args, ctx) => entitySyncStatus(ctx, 'Invoice', i.id),
  },
  BillingSubscription: {
    __resolveReference: (ref) => ref,
    syncStatus: (s, _args, ctx) => entitySyncStatus(ctx, 'BillingSubscription', s.id),
  },
};

/**
 * Where an invoice or a subscription stands in each system sync has written it to: an invoice billing issued is posted
 * to the ERP (INVOICE_POST), a tenant on a billing vendor has its subscriptions and invoices pushed there. Systems
 * nothing syncs it to are absent (an invoice created in the ERP itself: an empty list).
 */
async function entitySyncStatus(ctx: SyncContext, type: 'Invoice' | 'BillingSubscription', id: string) {
  const links = await ctx.loaders.links.load(`${type}:${id}`);
  return links.map((link) => ({
    system: link.system, state: link.state as SyncState, lastSyncedAt: link.lastSyncedAt, lastError: link.lastError, connectionState: null,
  }));
}
