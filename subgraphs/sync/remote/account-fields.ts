import type { Db } from '../../../lib/db/db';
import { accountSyncHooks } from '../../crm/account-sync';
import type { AccountChanges } from '../../crm/connector/models';
import { crmReferenceStore } from '../../crm/connector/reference-store';

export type OwnedAccountField = 'name' | 'domain' | 'industry';

/** A value a vendor holds for one of an account's fields, and whether that vendor owns the field (by the connection's mappings). */
export interface IncomingAccountField {
  field: OwnedAccountField;
  value: string | null;
  vendorOwns: boolean;
}

export interface AccountFieldsOutcome {
  /** Fields written to the account (the vendor owns them, or they are its mapped custom fields). */
  applied: string[];
  /** Fields the vendor holds differently but does not own: drift, for the caller to report (and repair where it can). */
  drifted: { field: OwnedAccountField; value: string | null; current: string | null }[];
}

/**
 * Applies a vendor's values to an account by field ownership: a field the vendor owns takes its value (the account's
 * write then reaches the other systems, as any account change does), one it does not own is drift; mapped custom
 * fields are the vendor's and are merged with the keys other systems set. Null when the account does not exist.
 */
export async function applyAccountFields(
  db: Db, tenant: string, correlationId: string, accountId: string, incoming: readonly IncomingAccountField[], custom: Record<string, string | null> | null,
): Promise<AccountFieldsOutcome | null> {
  const crm = crmReferenceStore(db, tenant, accountSyncHooks(tenant, correlationId));
  const [account] = await crm.accountsByIds([accountId]);
  if (!account) return null;
  const changes: AccountChanges = {};
  const drifted: AccountFieldsOutcome['drifted'] = [];
  for (const { field, value, vendorOwns } of incoming) {
    const current = account[field];
    // An account always has a name: a vendor without one changes nothing.
    if (value === current || (field === 'name' && value === null)) continue;
    if (!vendorOwns) drifted.push({ field, value, current });
    else if (field === 'name') changes.name = value ?? account.name;
    else changes[field] = value;
  }
  if (custom && Object.keys(custom).length > 0) {
    const merged = { ...account.customFields, ...custom };
    if (JSON.stringify(merged) !== JSON.stringify(account.customFields)) changes.customFields = merged;
  }
  if (Object.keys(changes).length > 0) await crm.updateAccount(accountId, changes);
  return { applied: Object.keys(changes), drifted };
}

/** Odoo/Stripe answer `false` or nothing for an empty field; anything else is shown as text. */
export const asText = (v: unknown): string | null => (v === false || v === null || v === undefined || v === '' ? null : typeof v === 'string' ? v : JSON.stringify(v));
