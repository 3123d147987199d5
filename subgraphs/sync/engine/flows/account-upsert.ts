import type { Db } from '../../../../lib/db/db';
import type { SyncJobModel } from '../../ledger/models';
import { PermanentError } from '../errors';
import { recordLink } from '../links';
import { type SystemsFor, currencyForCountry } from '../systems';

/**
 * Account master sync: the CRM account is upserted as the ERP customer or the billing customer. Field ownership:
 * CRM owns name (and address); the ERP owns credit, billing owns payment terms, so those are never written here.
 * The upsert is keyed by the canonical id, so running it twice (a retry after a crash) leaves one record.
 */
export function accountUpsertFlow(db: Db, systems: SystemsFor) {
  return async (job: SyncJobModel): Promise<string> => {
    const sys = systems(job.tenant, job.correlationId);
    const [account] = await sys.crm.accountsByIds([job.entityId]);
    if (!account) throw new PermanentError('SOURCE_NOT_FOUND', `CRM account "${job.entityId}" does not exist`);
    const customer = { id: account.id, name: account.name, currency: currencyForCountry(account.billingAddress?.country) };
    switch (job.targetSystem) {
      case 'ERP': {
        const ref = await sys.erp.upsertCustomer(customer);
        await recordLink(db, sys.crm, job.tenant, account.id, 'ERP', ref);
        return `ERP customer ${ref.remoteId} upserted`;
      }
      case 'BILLING': {
        const ref = await sys.billing.upsertCustomer(customer);
        await recordLink(db, sys.crm, job.tenant, account.id, 'BILLING', ref);
        return `billing customer ${ref.remoteId} upserted`;
      }
      case 'CRM': {
        // An account changed through our API, for a tenant whose CRM is a vendor (HubSpot): the vendor gets it too.
        const remote = await sys.remoteCrm();
        if (!remote) return 'CRM is the reference store: nothing to push';
        const ref = await remote.pushAccount(account);
        await recordLink(db, sys.crm, job.tenant, account.id, 'CRM', ref);
        return `CRM record ${ref.remoteId} upserted at the vendor`;
      }
      default:
        throw new PermanentError('BAD_TARGET', `Account sync cannot target ${String(job.targetSystem)}`);
    }
  };
}
