import { enqueueSyncJob, remoteSystemConnected, type SystemName } from '../../lib/outbox';
import type { CrmWriteHooks } from './connector/reference-store';

/**
 * Account master sync (transactional outbox): a changed account enqueues its upsert into the ERP and billing in the
 * transaction of the change, and into a vendor CRM (HubSpot) when the tenant has one. A change that came from that
 * vendor (`fromVendor`) is not pushed back to it.
 */
export function accountSyncHooks(tenant: string, correlationId: string, opts: { fromVendor?: boolean } = {}): CrmWriteHooks {
  return {
    async accountChanged(tx, account) {
      const targets: SystemName[] = ['ERP', 'BILLING'];
      if (!opts.fromVendor && (await remoteSystemConnected(tx, tenant, 'CRM'))) targets.push('CRM');
      for (const target of targets) {
        await enqueueSyncJob(tx, {
          tenant, kind: 'ACCOUNT_UPSERT', entityType: 'Account', entityId: account.id, sourceSystem: 'CRM',
          targetSystem: target, correlationId, idempotencyKey: `account:${account.id}:${target}:${account.updatedAt}`,
        });
      }
    },
  };
}
