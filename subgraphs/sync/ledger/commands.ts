import { randomUUID } from 'node:crypto';
import type { Db } from '../../../lib/db/db';
import { illegalTransition, notFound } from '../../../lib/errors';
import { enqueueSyncJob } from '../../../lib/outbox';
import type { CrmConnector } from '../../crm/connector/port';
import { REPLAYABLE_STATES, type SyncJobFilter, type SyncJobModel } from './models';
import { ledger, transition } from './store';

/** Operator commands on the ledger, bound to one tenant (accounts are checked through the CRM port). `wake` pokes an in-process worker so work starts at once. */
export function syncCommands(db: Db, crm: CrmConnector, tenant: string, correlationId: string, wake: () => void) {
  const read = ledger(db, tenant);
  const one = async (id: string): Promise<SyncJobModel> => {
    const [job] = await read.jobsByIds([id]);
    if (!job) throw notFound('SyncJob', id);
    return job;
  };
  return {
    /** Runs a finished-but-failed job again from its first step; its steps are idempotent, so nothing doubles. */
    async replay(id: string): Promise<SyncJobModel> {
      const job = await one(id);
      if (!REPLAYABLE_STATES.includes(job.state)) {
        throw illegalTransition('SYNC.JOB_NOT_REPLAYABLE', `Job "${id}" is ${job.state}; only ${REPLAYABLE_STATES.join(', ')} jobs can be replayed`);
      }
      const replayed = await db.transaction(async (tx) => {
        // Guard against a concurrent replay or worker: only move the job if it is still in the state we saw.
        const still = await tx.query('SELECT 1 FROM sync.jobs WHERE id = $1 AND tenant_id = $2 AND state = $3 FOR UPDATE', [id, tenant, job.state]);
        if (still.length === 0) throw illegalTransition('SYNC.JOB_CHANGED', `Job "${id}" changed state; read it again`);
        return transition(tx, id, { state: 'PENDING', resetAttempts: true, nextRunAt: new Date(), message: 'replayed' });
      });
      wake();
      return replayed ?? job;
    },
    async replayDeadLetters(filter: SyncJobFilter): Promise<number> {
      let count = 0;
      let after: string | null = null;
      for (;;) {
        const page: SyncJobModel[] = await read.listJobs({ ...filter, states: ['DEAD_LETTERED'] }, { limit: 100, afterId: after });
        for (const job of page.slice(0, 100)) {
          await db.transaction((tx) => transition(tx, job.id, { state: 'PENDING', resetAttempts: true, nextRunAt: new Date(), message: 'replayed' }));
          count += 1;
        }
        if (page.length <= 100) break;
        after = page[99]?.id ?? null;
      }
      wake();
      return count;
    },
    async requestResync(accountId: string): Promise<SyncJobModel[]> {
      const [exists] = await crm.accountsByIds([accountId]);
      if (!exists) throw notFound('Account', accountId);
      const nonce = randomUUID();
      const ids = await db.transaction(async (tx) =>
        Promise.all(
          (['ERP', 'BILLING'] as const).map((target) =>
            enqueueSyncJob(tx, {
              tenant, kind: 'ACCOUNT_UPSERT', entityType: 'Account', entityId: accountId, sourceSystem: 'CRM', targetSystem: target,
              correlationId, idempotencyKey: `resync:${accountId}:${target}:${nonce}`,
            }),
          ),
        ),
      );
      wake();
      return read.jobsByIds(ids.filter((id): id is string => id !== null));
    },
  };
}
