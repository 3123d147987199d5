import type { SubscriptionChange } from '../../../billing/connector/invoicing';
import type { SyncJobModel } from '../../ledger/models';
import { PermanentError } from '../errors';
import type { SystemsFor } from '../systems';

const CHANGES: readonly SubscriptionChange[] = ['CREATED', 'ITEMS_REPLACED', 'CANCELED'];

/**
 * A write through the billing or ERP API for a tenant whose system is remote: the mirror already has it (committed
 * with this job), the vendor gets the record's current state now. Billing (Stripe): Idempotency-Keys derive from the
 * job id, so a retry or a job re-claimed after a worker died replays the vendor's first answers instead of creating
 * twice. ERP (Odoo, which has no idempotency keys): the push reads the vendor's record first and writes only what
 * differs (remote/erp.ts). A tenant moved back to the reference store since the write has nothing to push.
 */
export function remotePushFlow(systems: SystemsFor) {
  return async (job: SyncJobModel): Promise<string> => {
    if (job.targetSystem === 'ERP') {
      const push = await systems(job.tenant, job.correlationId).remoteErp();
      if (!push) return 'the ERP is the reference store: nothing to push';
      return push.push(job.entityType, job.entityId, job.payload['mayCreate'] === true);
    }
    if (job.entityType !== 'BillingSubscription') throw new PermanentError('UNSUPPORTED_PUSH', `No push for ${job.entityType}`);
    const change = CHANGES.find((c) => c === job.payload['change']);
    if (!change) throw new PermanentError('UNSUPPORTED_PUSH', `Unknown subscription change ${String(job.payload['change'])}`);
    const push = await systems(job.tenant, job.correlationId).remoteBilling();
    if (!push) return 'billing is on the reference store: nothing to push';
    return push.syncSubscription(job.entityId, change, `job:${job.id}`);
  };
}
