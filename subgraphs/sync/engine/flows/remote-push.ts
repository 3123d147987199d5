import type { SubscriptionChange } from '../../../billing/connector/invoicing';
import type { SyncJobModel } from '../../ledger/models';
import { PermanentError } from '../errors';
import type { SystemsFor } from '../systems';

const CHANGES: readonly SubscriptionChange[] = ['CREATED', 'ITEMS_REPLACED', 'CANCELED'];
const ON_REFERENCE = 'billing is on the reference store: nothing to push';

/**
 * A write through the billing or ERP API for a tenant whose system is remote (billing: a subscription written, an
 * invoice issued, a payment recorded; ERP: a credit limit, an invoice created/posted/voided, a payment): the mirror
 * already has it (committed with this job), the vendor gets it now. Billing (Stripe): Idempotency-Keys derive from the
 * job id, so a retry or a job re-claimed after a worker died replays the vendor's first answers instead of creating
 * twice. ERP (Odoo, which has no idempotency keys): the push reads the vendor's record first and writes only what
 * differs (remote/erp.ts). A tenant moved back to the reference store since the write has nothing to push.
 */
export function remotePushFlow(systems: SystemsFor) {
  return async (job: SyncJobModel): Promise<string> => {
    if (job.targetSystem === 'ERP') {
      const erp = await systems(job.tenant, job.correlationId).remoteErp();
      if (!erp) return 'the ERP is the reference store: nothing to push';
      return erp.push(job.entityType, job.entityId, job.payload['mayCreate'] === true);
    }
    const push = await systems(job.tenant, job.correlationId).remoteBilling();
    switch (job.entityType) {
      case 'BillingSubscription': {
        const change = CHANGES.find((c) => c === job.payload['change']);
        if (!change) throw new PermanentError('UNSUPPORTED_PUSH', `Unknown subscription change ${String(job.payload['change'])}`);
        return push ? push.syncSubscription(job.entityId, change, `job:${job.id}`) : ON_REFERENCE;
      }
      case 'Invoice':
        return push ? push.pushIssuedInvoice(job.entityId) : ON_REFERENCE;
      case 'Payment': {
        const invoiceId = job.payload['invoiceId'];
        if (typeof invoiceId !== 'string') throw new PermanentError('UNSUPPORTED_PUSH', 'A payment push names its invoice');
        return push ? push.pushPayment(job.entityId, invoiceId, `job:${job.id}`) : ON_REFERENCE;
      }
      default:
        throw new PermanentError('UNSUPPORTED_PUSH', `No push for ${job.entityType}`);
    }
  };
}
