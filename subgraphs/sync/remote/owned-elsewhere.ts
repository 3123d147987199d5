import type { Db } from '../../../lib/db/db';
import type { SystemName } from '../../../lib/outbox';
import { stripeMappingsOf } from '../../billing/connector/stripe/settings';
import { odooMappingsOf } from '../../erp/connector/odoo/settings';
import type { OwnedAccountField } from './account-fields';

/**
 * What the tenant's vendor ERP and billing connections own of an account, by their field mappings: the fields whose
 * value comes from them (a HubSpot value for one of those is drift, not a change), and the `customFields` keys their
 * mappings fill (a HubSpot change keeps them). A field counts only where that connection both owns it and carries a
 * value for it: the Odoo partner name always, domain and industry only when mapped.
 */
export interface OwnedElsewhere {
  fields: Map<OwnedAccountField, SystemName>;
  customKeys: Set<string>;
}

export async function ownedElsewhere(db: Db, tenant: string): Promise<OwnedElsewhere> {
  const rows = await db.query<{ system: SystemName; adapter: string; settings: Record<string, unknown> | null }>(
    `SELECT system, adapter, settings FROM sync.connections WHERE tenant_id = $1 AND enabled AND system IN ('ERP', 'BILLING') ORDER BY system`, [tenant]);
  const owned: OwnedElsewhere = { fields: new Map(), customKeys: new Set() };
  for (const row of rows) {
    const settings = row.settings ?? {};
    if (row.adapter === 'odoo') {
      const { fields, customFields, ownership } = odooMappingsOf(settings).account;
      if (ownership.name === 'ERP') owned.fields.set('name', 'ERP');
      for (const f of fields) if (ownership[f.canonical] === 'ERP') owned.fields.set(f.canonical, 'ERP');
      for (const c of customFields) owned.customKeys.add(c.field);
    } else if (row.adapter === 'stripe') {
      const { fields, customFields, ownership } = stripeMappingsOf(settings).customer;
      for (const f of fields) if (ownership[f.canonical] === 'BILLING') owned.fields.set(f.canonical, 'BILLING');
      for (const c of customFields) owned.customKeys.add(c.field);
    }
  }
  return owned;
}
