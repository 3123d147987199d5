import { createHash } from 'node:crypto';
import type { Db } from '../../../lib/db/db';
import type { JsonObject, RemoteRecord } from '../../../lib/connectors/remote';
import { accountSyncHooks } from '../../crm/account-sync';
import type { AccountChanges, AccountModel } from '../../crm/connector/models';
import { crmReferenceStore } from '../../crm/connector/reference-store';
import type { CrmKind, CrmRemote, RemoteAccountFields } from '../../crm/connector/remote-port';
import type { ConnectionModel } from '../connections/models';
import { recordLink } from '../engine/links';
import { alreadyApplied, remoteLinks } from './links';

/** The canonical id of an account born in the vendor CRM: derived from its vendor id, so a retried job finds it. */
export function canonicalAccountId(connectionId: string, remoteId: string): string {
  return `acc_${createHash('sha256').update(`${connectionId}|${remoteId}`).digest('hex').slice(0, 32)}`;
}

const sorted = (o: Record<string, string | null>) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));

/** The CRM-owned fields the vendor holds that differ from ours (only fields the vendor has a value for). */
function changedFields(ours: AccountModel, theirs: RemoteAccountFields): AccountChanges {
  const changes: AccountChanges = {};
  if (theirs.name && theirs.name !== ours.name) changes.name = theirs.name;
  if (theirs.domain !== ours.domain) changes.domain = theirs.domain;
  if (theirs.industry !== ours.industry) changes.industry = theirs.industry;
  if (theirs.lifecycleStage && theirs.lifecycleStage !== ours.lifecycleStage) changes.lifecycleStage = theirs.lifecycleStage;
  // The mapped fields replace the account's custom fields as a whole: a field no longer mapped goes away.
  if (theirs.custom && JSON.stringify(sorted(theirs.custom)) !== JSON.stringify(sorted(ours.customFields))) changes.customFields = theirs.custom;
  return changes;
}

/**
 * A record changed in the tenant's vendor CRM (HubSpot is its system of record for accounts): it is re-read by id
 * (events carry no content we trust, and come in any order) and applied to the mirror when it is newer than the version
 * the ledger holds, so a stale or repeated event changes nothing. An account born there gets a canonical id, which is
 * written back to the vendor (its unique property) so our later upserts update it. The mirror's write enqueues the
 * account's ERP and billing sync in its transaction, never a push back to the vendor it came from.
 */
export async function applyCrmChange(
  db: Db, tenant: string, correlationId: string, connection: ConnectionModel, remote: CrmRemote, kind: CrmKind, remoteId: string, force = false,
): Promise<string> {
  if (kind !== 'account') return `${kind} ${remoteId}: only accounts are synced from the vendor CRM`;
  const [record] = await remote.get('account', [remoteId]);
  if (!record) return `account ${remoteId} no longer exists at ${remote.vendor}`;
  return applyAccount(db, tenant, correlationId, connection, remote, record, force);
}

/** `force`: apply even a version the ledger holds (a resync after the connection's field mappings changed). */
export async function applyAccount(
  db: Db, tenant: string, correlationId: string, connection: ConnectionModel, remote: CrmRemote, fetched: RemoteRecord<RemoteAccountFields>, force = false,
): Promise<string> {
  let record = fetched;
  const links = remoteLinks(db, tenant, connection.id);
  const known = await links.byRemoteId('Account', record.remoteId);
  if (!force && alreadyApplied(record, known)) {
    return `account ${record.remoteId}: version ${record.remoteUpdatedAt} already applied`;
  }
  const mirror = crmReferenceStore(db, tenant, accountSyncHooks(tenant, correlationId, { fromVendor: true }));
  const id = record.canonicalId ?? known?.canonicalId ?? canonicalAccountId(connection.id, record.remoteId);
  const [ours] = await mirror.accountsByIds([id]);
  let outcome: string;
  if (!ours) {
    const f = record.fields;
    await mirror.createAccount({
      name: f.name || record.remoteId, domain: f.domain, industry: f.industry, lifecycleStage: f.lifecycleStage ?? 'LEAD', billingAddress: null, owner: null, customFields: f.custom ?? {},
    }, id);
    outcome = `account ${id} created from ${remote.vendor} ${record.remoteId}`;
  } else {
    const changes = changedFields(ours, record.fields);
    if (Object.keys(changes).length > 0) await mirror.updateAccount(id, changes);
    outcome = `account ${id} ${Object.keys(changes).length ? `updated (${Object.keys(changes).join(', ')})` : 'unchanged'} from ${remote.vendor} ${record.remoteId}`;
  }
  // The vendor keeps our id from now on; claiming changes its modification time, so the claimed version is the one linked.
  if (record.canonicalId !== id) record = await remote.claim('account', record.remoteId, id);
  await links.record('Account', id, record.remoteId, record.remoteUpdatedAt, record.remoteData as JsonObject);
  await recordLink(db, mirror, tenant, id, 'CRM', { remoteId: record.remoteId, updatedAt: record.remoteUpdatedAt, remoteData: record.remoteData });
  return outcome;
}
