import { randomUUID } from 'node:crypto';
import type { Db } from '../../../lib/db/db';
import { TransientError } from '../engine/errors';

/** Billing (Stripe): Customer, Plan, Price, BillingSubscription, Invoice; CRM (HubSpot): Account, Contact, Opportunity; ERP (Odoo): Customer, Invoice, Payment. */
/** `InvoiceSettlement`: one of our invoices (canonical id) that our billing API settled at the vendor (remote id) out of band. */
export type RemoteEntity = 'Customer' | 'Plan' | 'Price' | 'BillingSubscription' | 'Invoice' | 'Account' | 'Contact' | 'Opportunity' | 'Payment' | 'InvoiceSettlement';

/** What the ledger holds of a linked vendor record: the last version applied, and the record as the vendor sent it. */
export interface RemoteLink {
  canonicalId: string;
  remoteId: string;
  remoteUpdatedAt: string | null;
  remoteData: Record<string, unknown> | null;
}

/** The vendor ids of our records for one connection (`sync.remote_links`): part of the ledger's own port. */
export function remoteLinks(db: Db, tenant: string, connectionId: string) {
  return {
    async remoteId(type: RemoteEntity, canonicalId: string): Promise<string | null> {
      const [row] = await db.query<{ remote_id: string }>(
        'SELECT remote_id FROM sync.remote_links WHERE connection_id = $1 AND entity_type = $2 AND canonical_id = $3 AND tenant_id = $4',
        [connectionId, type, canonicalId, tenant],
      );
      return row?.remote_id ?? null;
    },
    async canonicalId(type: RemoteEntity, remoteId: string): Promise<string | null> {
      const [row] = await db.query<{ canonical_id: string }>(
        'SELECT canonical_id FROM sync.remote_links WHERE connection_id = $1 AND entity_type = $2 AND remote_id = $3 AND tenant_id = $4',
        [connectionId, type, remoteId, tenant],
      );
      return row?.canonical_id ?? null;
    },
    /** The link of a vendor record, by the vendor's id. */
    async byRemoteId(type: RemoteEntity, remoteId: string): Promise<RemoteLink | null> {
      const [row] = await db.query<{ canonical_id: string; remote_id: string; remote_updated_at: Date | string | null; remote_data: Record<string, unknown> | null }>(
        `SELECT canonical_id, remote_id, remote_updated_at, remote_data FROM sync.remote_links
         WHERE connection_id = $1 AND entity_type = $2 AND remote_id = $3 AND tenant_id = $4`,
        [connectionId, type, remoteId, tenant],
      );
      if (!row) return null;
      const at = row.remote_updated_at;
      return { canonicalId: row.canonical_id, remoteId: row.remote_id, remoteUpdatedAt: at === null ? null : new Date(at).toISOString(), remoteData: row.remote_data };
    },
    /**
     * Links (or re-links) a record; `remoteData` keeps the vendor's record when given, the stored one otherwise. A
     * subscription or invoice written to the vendor is then in sync there: its `syncStatus` shows BILLING IN_SYNC with
     * the time (one statement, so the two never disagree).
     */
    async record(type: RemoteEntity, canonicalId: string, remoteId: string, remoteUpdatedAt: string | null, remoteData?: Record<string, unknown>): Promise<void> {
      await db.query(
        `WITH link AS (
           INSERT INTO sync.remote_links (connection_id, entity_type, canonical_id, tenant_id, remote_id, remote_updated_at, remote_data) VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (connection_id, entity_type, canonical_id) DO UPDATE SET remote_id = EXCLUDED.remote_id, remote_updated_at = EXCLUDED.remote_updated_at,
             remote_data = coalesce(EXCLUDED.remote_data, sync.remote_links.remote_data)
         )
         INSERT INTO sync.links (tenant_id, entity_type, entity_id, system, remote_id, state, last_synced_at)
         SELECT $4, $2, $3, 'BILLING', $5, 'IN_SYNC', now() WHERE $2 IN ('BillingSubscription', 'Invoice')
         ON CONFLICT (tenant_id, entity_type, entity_id, system) DO UPDATE SET remote_id = EXCLUDED.remote_id, state = 'IN_SYNC',
           last_synced_at = now(), last_error = NULL, updated_at = now()`,
        [connectionId, type, canonicalId, tenant, remoteId, remoteUpdatedAt, remoteData ? JSON.stringify(remoteData) : null],
      );
    },
    /**
     * Runs `write` as the only writer of one record's vendor counterpart, across workers: Odoo has no unique key on our
     * id, so two jobs creating one account's partner at once would make two. A job finding the record's lease held
     * fails with a transient VENDOR_WRITE_IN_PROGRESS and is retried after the holder is done (it then finds the link
     * the holder made). The lease runs out by itself after `leaseSeconds` if its holder died.
     */
    async exclusive<T>(type: RemoteEntity, canonicalId: string, write: () => Promise<T>, leaseSeconds = 60): Promise<T> {
      const holder = randomUUID();
      const taken = await db.query(
        `INSERT INTO sync.remote_write_leases (connection_id, entity_type, canonical_id, tenant_id, holder, leased_until)
         VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6::double precision))
         ON CONFLICT (connection_id, entity_type, canonical_id) DO UPDATE SET holder = EXCLUDED.holder, leased_until = EXCLUDED.leased_until
           WHERE sync.remote_write_leases.leased_until < now()
         RETURNING 1`,
        [connectionId, type, canonicalId, tenant, holder, leaseSeconds],
      );
      if (taken.length === 0) throw new TransientError('VENDOR_WRITE_IN_PROGRESS', `another job is writing ${type} "${canonicalId}" to the vendor`, 500);
      try {
        return await write();
      } finally {
        await db.query('DELETE FROM sync.remote_write_leases WHERE connection_id = $1 AND entity_type = $2 AND canonical_id = $3 AND holder = $4', [connectionId, type, canonicalId, holder]);
      }
    },
  };
}

export type RemoteLinks = ReturnType<typeof remoteLinks>;

/** JSON with keys sorted (jsonb does not keep key order), for comparing a vendor record with the stored one. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.entries(value as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * Whether a vendor record read now is already what the ledger applied: older than the linked version (a lagging read),
 * or the same version with the same content. Vendors stamp modification times coarsely (Odoo: whole seconds), so an
 * equal time alone does not prove an equal record.
 */
export function alreadyApplied(record: { remoteUpdatedAt: string; remoteData: Record<string, unknown> }, known: RemoteLink | null): boolean {
  if (!known?.remoteUpdatedAt) return false;
  const [theirs, ours] = [Date.parse(record.remoteUpdatedAt), Date.parse(known.remoteUpdatedAt)];
  return theirs < ours || (theirs === ours && canonicalJson(record.remoteData) === canonicalJson(known.remoteData));
}
