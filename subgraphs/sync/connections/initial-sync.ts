import { badUserInput, notFound } from '../../../lib/errors';
import { enqueueSyncJob } from '../../../lib/outbox';
import type { MutationResolvers, SyncJobResolvers } from '../generated/resolvers';
import { initialSyncProgress } from '../remote/initial-sync';

/** Admin API of initial syncs: start one per connection (a second call returns the same job), and its progress. */
export const initialSyncMutations: Pick<MutationResolvers, 'startInitialSync'> = {
  startInitialSync: async (_p, { connectionId }, ctx) => {
    const [connection] = await ctx.deps.connections.store.forTenant(ctx.tenant).byIds([connectionId]);
    if (!connection || !connection.enabled) throw notFound('SystemConnection', connectionId);
    if (connection.system === 'BILLING' || connection.adapter === 'reference') {
      throw badUserInput('connectionId', 'initial sync reads vendor CRM and ERP connections only');
    }
    const key = `initial:${connection.id}`;
    await ctx.db.transaction((tx) =>
      enqueueSyncJob(tx, {
        tenant: ctx.tenant, kind: 'INITIAL_SYNC', entityType: 'SystemConnection', entityId: connection.id, sourceSystem: connection.system,
        targetSystem: null, correlationId: ctx.correlationId, idempotencyKey: key, payload: { connectionId: connection.id },
        // A vendor outage mid-way is retried from the cursor; give it room.
        maxAttempts: 20,
      }),
    );
    ctx.deps.wake();
    const job = await ctx.ledger.jobByIdempotencyKey(key);
    if (!job) throw notFound('SyncJob', key);
    return job;
  },
};

export const syncJobProgress: Pick<SyncJobResolvers, 'progress'> = {
  progress: (j, _a, ctx) => (j.kind === 'INITIAL_SYNC' ? initialSyncProgress(ctx.db, ctx.tenant, j.id) : null),
};
