import type { JsonObject } from '../../../lib/connectors/remote';
import type { AccountModel } from '../../crm/connector/models';
import type { CrmRemote } from '../../crm/connector/remote-port';
import type { RemoteLinks } from './links';

/** Writes to a remote CRM (HubSpot) for records changed through our API; the mirror (reference tables) already has them. */
export interface RemoteCrmPush {
  /** Creates or updates the vendor's company for an account; idempotent by the account id (the vendor's unique property). */
  pushAccount(account: AccountModel): Promise<{ remoteId: string; updatedAt: string; remoteData: Record<string, unknown> }>;
}

/**
 * The CRM-owned fields of an account as the vendor gets them. The owner is left out: our `owner` is a free-text name,
 * HubSpot's is one of its users' ids.
 */
export function accountFields(a: AccountModel) {
  return { name: a.name, domain: a.domain, industry: a.industry, lifecycleStage: a.lifecycleStage, custom: a.customFields };
}

export function remoteCrm(remote: CrmRemote, links: RemoteLinks): RemoteCrmPush {
  return {
    async pushAccount(account) {
      const [r] = await remote.upsert('account', [{ canonicalId: account.id, fields: accountFields(account) }]);
      if (!r) throw new Error(`${remote.vendor} returned no record for account ${account.id}`);
      // The version we wrote is known: the webhook or poll that echoes it back finds nothing newer to apply.
      await links.record('Account', account.id, r.remoteId, r.remoteUpdatedAt, r.remoteData as JsonObject);
      return { remoteId: r.remoteId, updatedAt: r.remoteUpdatedAt, remoteData: r.remoteData };
    },
  };
}
