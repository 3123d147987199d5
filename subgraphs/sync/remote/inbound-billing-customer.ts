import type { Db } from '../../../lib/db/db';
import type { BillingRemote } from '../../billing/connector/remote-port';
import { stripeMappingsOf } from '../../billing/connector/stripe/settings';
import type { ConnectionModel } from '../connections/models';
import { applyAccountFields, asText } from './account-fields';
import { remoteLinks } from './links';

/**
 * A customer changed at the tenant's billing vendor (Stripe; its webhook, or the resync a mapping change queues):
 * re-read, and its mapped metadata applied to the account, by the connection's mappings and ownership
 * (`inbound-erp-customer.ts` does the same for Odoo partners). Nothing else of a Stripe customer is ours to take.
 */
export async function applyBillingCustomer(db: Db, tenant: string, correlationId: string, connection: ConnectionModel, remote: BillingRemote, remoteId: string): Promise<string> {
  const mappings = stripeMappingsOf(connection.settings);
  if (mappings.customer.fields.length + mappings.customer.customFields.length === 0) return `customer ${remoteId}: no metadata mapped`;
  const customer = await remote.retrieveCustomer(remoteId);
  if (!customer) return `customer ${remoteId} no longer exists at the vendor`;
  const id = customer.canonicalId ?? (await remoteLinks(db, tenant, connection.id).canonicalId('Customer', remoteId));
  if (!id) return `customer ${remoteId} was not created by us: not applied`;
  const data = customer.remoteData as { metadata?: Record<string, string> | null } | null;
  const metadata = data?.metadata ?? {};
  const outcome = await applyAccountFields(db, tenant, correlationId, id,
    mappings.customer.fields.map((f) => ({ field: f.canonical, value: asText(metadata[f.metadata]), vendorOwns: mappings.customer.ownership[f.canonical] === 'BILLING' })),
    mappings.customer.customFields.length > 0 ? Object.fromEntries(mappings.customer.customFields.map((m) => [m.field, asText(metadata[m.metadata])])) : null);
  if (!outcome) return `customer ${remoteId}: account ${id} does not exist`;
  const said = [
    ...(outcome.applied.length > 0 ? [`${outcome.applied.join(', ')} applied from ${connection.adapter} metadata`] : []),
    ...outcome.drifted.map((d) => `drift: ${d.field} "${d.value ?? ''}" in ${connection.adapter} metadata, "${d.current ?? ''}" in the CRM (which owns it)`),
  ];
  return `account ${id}: ${said.join('; ') || 'nothing to apply'}`;
}
