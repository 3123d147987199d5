import { enqueueSyncJob } from '../../lib/outbox';
import { badUserInput, forbidden, illegalTransition, notFound } from '../../lib/errors';
import type { Scope } from '../../lib/auth/principal';
import { parsePage, toConnection } from '../../lib/pagination';
import { reconcileTenant } from './engine/reconcile';
import type { SyncContext } from './context';
import type { Resolvers, SyncState } from './generated/resolvers';
import type { ReconciliationModel } from './ledger/models';
import { connectionMutations, connectionQueries, systemConnection } from './connections/resolvers';

const SYSTEMS = ['ERP', 'BILLING'] as const;

export const resolvers: Resolvers = {
  Query: {
    ...connectionQueries,
    syncJob: (_p, { id }, ctx) => ctx.loaders.job.load(id),
    syncJobs: async (_p, { filter, first, after }, ctx) => {
      const page = parsePage(first, after);
      return toConnection(await ctx.ledger.listJobs(filter ?? {}, page), page.limit);
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
      const needs: Record<string, Scope> = { INVOICE_STATUS: 'finance:read', SUBSCRIPTION_STATUS: 'billing:read' };
      for (const kind of kinds) {
        const scope = needs[kind];
        if (!scope) throw badUserInput('kinds', `unknown status event kind ${kind}`);
        if (!ctx.principal.scopes.has(scope)) throw forbidden(`Requires scope ${scope}`);
      }
      return ctx.ledger.statusEventsAfter(after, kinds, limit);
    },
    auditEntries: async (_p, { first, after }, ctx) => {
      const page = parsePage(first, after);
      if (page.afterId !== null && !/^\d{1,18}$/.test(page.afterId)) throw badUserInput('after', 'is not a cursor this API issued');
      const rows = await ctx.db.query<{ id: string; principal: string; token_kind: string; operation_name: string | null; fields: string[]; arguments: unknown; outcome: string; error_codes: string[]; correlation_id: string; at: Date }>(
        `SELECT id::text, principal, token_kind, operation_name, fields, arguments, outcome, error_codes, correlation_id, at FROM sync.audit_log
         WHERE tenant_id = $1 AND ($2::bigint IS NULL OR id < $2::bigint) ORDER BY id DESC LIMIT $3`,
        [ctx.tenant, page.afterId, page.limit + 1],
      );
      return toConnection(
        rows.map((r) => ({
          id: r.id, principal: r.principal, tokenKind: r.token_kind, operationName: r.operation_name, fields: r.fields,
          arguments: JSON.stringify(r.arguments), outcome: r.outcome, errorCodes: r.error_codes, correlationId: r.correlation_id, at: new Date(r.at).toISOString(),
        })),
        page.limit,
      );
    },
    latestReconciliation: async (_p, _a, ctx) => {
      const [row] = await ctx.db.query<{ id: string; started_at: Date; finished_at: Date | null; accounts_checked: number; drift: ReconciliationModel['drift'] }>(
        'SELECT id, started_at, finished_at, accounts_checked, drift FROM sync.reconciliations WHERE tenant_id = $1 ORDER BY started_at DESC LIMIT 1',
        [ctx.tenant],
      );
      if (!row) return null;
      return { id: row.id, startedAt: new Date(row.started_at).toISOString(), finishedAt: row.finished_at ? new Date(row.finished_at).toISOString() : null, accountsChecked: row.accounts_checked, drift: row.drift };
    },
  },
  Mutation: {
    ...connectionMutations,
    replaySyncJob: (_p, { id }, ctx) => ctx.commands.replay(id),
    replayDeadLetters: (_p, { filter }, ctx) => ctx.commands.replayDeadLetters(filter ?? {}),
    requestResync: (_p, { accountId }, ctx) => ctx.commands.requestResync(accountId),
    reconcile: async (_p, _a, ctx) => {
      const report = await reconcileTenant(ctx.db, ctx.deps.systems, ctx.tenant, ctx.correlationId);
      ctx.deps.wake();
      return report;
    },
    closeOpportunityWon: async (_p, { opportunityId }, ctx) => {
      const crm = ctx.deps.systems(ctx.tenant).crm;
      const [opp] = await crm.opportunitiesByIds([opportunityId]);
      if (!opp) throw notFound('Opportunity', opportunityId);
      if (opp.stage === 'CLOSED_LOST') throw illegalTransition('CRM.OPPORTUNITY_CLOSED', `Opportunity "${opportunityId}" is CLOSED_LOST`);
      if (!opp.planCode) throw illegalTransition('CRM.OPPORTUNITY_WITHOUT_PLAN', `Opportunity "${opportunityId}" names no plan to sell`);
      const jobId = await ctx.db.transaction(async (tx) => {
        await tx.query(`UPDATE crm.opportunities SET stage = 'CLOSED_WON', updated_at = now() WHERE tenant_id = $1 AND id = $2`, [ctx.tenant, opportunityId]);
        // One quote-to-cash per opportunity: closing it again returns the same job.
        const key = `q2c:${opportunityId}`;
        const created = await enqueueSyncJob(tx, {
          tenant: ctx.tenant, kind: 'QUOTE_TO_CASH', entityType: 'Opportunity', entityId: opportunityId, sourceSystem: 'CRM', targetSystem: null,
          correlationId: ctx.correlationId, idempotencyKey: key,
          payload: { opportunityId, accountId: opp.accountId, planCode: opp.planCode, amountMinor: opp.amount.amountMinor, currency: opp.amount.currency },
        });
        if (created) return created;
        const [existing] = await tx.query<{ id: string }>('SELECT id FROM sync.jobs WHERE tenant_id = $1 AND idempotency_key = $2', [ctx.tenant, key]);
        return existing?.id ?? null;
      });
      ctx.deps.wake();
      const job = jobId ? await ctx.loaders.job.load(jobId) : null;
      if (!job) throw notFound('SyncJob', opportunityId);
      return job;
    },
  },
  SystemConnection: systemConnection,
  SyncJob: {
    __resolveReference: (ref, ctx) => ctx.loaders.job.load(ref.id),
    history: (j, _a, ctx) => ctx.loaders.history.load(j.id),
  },
  Account: {
    __resolveReference: (ref) => ({ id: ref.id }),
    syncStatus: async (a, _args, ctx) => {
      const links = await ctx.loaders.links.load(a.id);
      // The tenant's connections are cached by the runtime: no statement per account.
      const connections = await Promise.all(SYSTEMS.map((system) => ctx.deps.connections.connectionFor(ctx.tenant, system)));
      return SYSTEMS.map((system, i) => {
        const link = links.find((l) => l.system === system);
        const connection = connections[i];
        return {
          system, state: (link?.state ?? 'NOT_SYNCED') as SyncState, lastSyncedAt: link?.lastSyncedAt ?? null, lastError: link?.lastError ?? null,
          connectionState: connection && connection.adapter !== 'reference' ? connection.state : null,
        };
      });
    },
  },
};
