import type { Db } from '../../../lib/db/db';
import type { JsonObject, RemoteRecord } from '../../../lib/connectors/remote';
import { enqueueSyncJob } from '../../../lib/outbox';
import type { ErpConnector } from '../../erp/connector/port';
import type { ErpRemote, RemoteCustomerFields } from '../../erp/connector/remote-port';
import { odooMappingsOf } from '../../erp/connector/odoo/settings';
import type { ConnectionModel } from '../connections/models';
import { applyAccountFields, asText } from './account-fields';
import { alreadyApplied, remoteLinks } from './links';
import { unmatchedRecords } from './unmatched';

/**
 * A partner changed in the tenant's vendor ERP, applied by the connection's field ownership and mappings
 * (`fieldMappings` of the Odoo settings; today's rules by default). For each account field the partner carries (its
 * name, and the fields mapped onto canonical ones): the ERP's value is applied to the account when the ERP owns the
 * field (the account's write then reaches the other systems as any account change does); when the CRM owns it, a
 * different value is drift: reported in the result, the link DRIFTED, and for the name (the field the sync writes to
 * the ERP) repaired by an account upsert. Mapped custom fields are the ERP's: applied to `customFields`, next to the
 * keys other systems set. The credit limit: applied when the ERP owns it (and it changed there), else drift repaired
 * by pushing ours. Linking a partner re-reads the invoices that were waiting for it.
 */
export async function applyErpCustomer(
  db: Db, tenant: string, correlationId: string, connection: ConnectionModel, remote: ErpRemote, mirror: ErpConnector,
  record: RemoteRecord<RemoteCustomerFields>, force: boolean,
): Promise<string> {
  const links = remoteLinks(db, tenant, connection.id);
  const remoteId = record.remoteId;
  const known = await links.byRemoteId('Customer', remoteId);
  const id = record.canonicalId ?? known?.canonicalId;
  if (!id) return `customer ${remoteId} is not linked to an account: not synced`;
  if (!force && alreadyApplied(record, known)) return `customer ${remoteId}: version ${record.remoteUpdatedAt} already applied`;
  const mappings = odooMappingsOf(connection.settings);
  const own = mappings.account.ownership;
  const done: string[] = [];
  const [ours] = await mirror.accountsByIds([id]);
  // A partner reference that is not one of our accounts (Odoo's own customer codes) links nothing.
  if (!ours && !known) return `customer ${remoteId}: its reference "${id}" is none of our accounts: not synced`;

  const limit = record.fields.creditLimit;
  // Only a limit changed in the ERP since the version we hold: a limit set through our API is not undone by an
  // unrelated edit of the partner there.
  const limitChanged = !known?.remoteData || JSON.stringify(record.remoteData['credit_limit']) !== JSON.stringify(known.remoteData['credit_limit']);
  const limitDiffers = ours?.creditLimit && limit?.currency === ours.currency && limit.amountMinor !== ours.creditLimit.amountMinor;
  const repairs: { kind: 'ACCOUNT_UPSERT' | 'REMOTE_PUSH'; key: string }[] = [];
  if (ours && limit && limitChanged && limitDiffers) {
    if (own.creditLimit === 'ERP') {
      await mirror.setCreditLimit(id, limit, null);
      done.push(`credit limit ${limit.amountMinor} ${limit.currency} applied`);
    } else {
      repairs.push({ kind: 'REMOTE_PUSH', key: `drift:${connection.id}:${remoteId}:${record.remoteUpdatedAt}:creditLimit` });
      done.push(`drift: credit limit ${limit.amountMinor} at ${remote.vendor}, ${ours.creditLimit?.amountMinor} ours (which owns it); repair queued`);
    }
  }

  const outcome = await applyAccountFields(db, tenant, correlationId, id, [
    { field: 'name', value: record.fields.name || null, vendorOwns: own.name === 'ERP' },
    ...mappings.account.fields.map((f) => ({ field: f.canonical, value: asText(record.remoteData[f.odoo]), vendorOwns: own[f.canonical] === 'ERP' })),
  ], mappings.account.customFields.length > 0 ? Object.fromEntries(mappings.account.customFields.map((m) => [m.field, asText(record.remoteData[m.odoo])])) : null);
  for (const d of outcome?.drifted ?? []) {
    // The name is the field the sync writes to the ERP: an account upsert repairs it.
    if (d.field === 'name') repairs.push({ kind: 'ACCOUNT_UPSERT', key: `drift:${connection.id}:${remoteId}:${record.remoteUpdatedAt}` });
    done.push(`drift: ${d.field} "${d.value ?? ''}" at ${remote.vendor}, "${d.current ?? ''}" in the CRM (which owns it)${d.field === 'name' ? '; repair queued' : ''}`);
  }
  if (outcome && outcome.applied.length > 0) done.push(`${outcome.applied.join(', ')} applied from ${remote.vendor} (the ERP owns ${outcome.applied.length > 1 ? 'them' : 'it'})`);
  if (repairs.length > 0) {
    await db.transaction(async (tx) => {
      for (const r of repairs) {
        await enqueueSyncJob(tx, {
          tenant, kind: r.kind, entityType: 'Account', entityId: id, sourceSystem: r.kind === 'REMOTE_PUSH' ? 'ERP' : 'CRM', targetSystem: 'ERP', correlationId, idempotencyKey: r.key,
        });
      }
      await tx.query(`UPDATE sync.links SET state = 'DRIFTED', updated_at = now() WHERE tenant_id = $1 AND entity_type = 'Account' AND entity_id = $2 AND system = 'ERP'`, [tenant, id]);
    });
  }
  await links.record('Customer', id, remoteId, record.remoteUpdatedAt, record.remoteData as JsonObject);
  const waiting = await unmatchedRecords(db, connection).requeue(`linked:${remoteId}:${id}`, correlationId, remoteId);
  if (waiting > 0) done.push(`${waiting} record(s) waiting for this partner re-read`);
  return `customer ${id}: ${done.join('; ') || 'nothing to apply'}`;
}
