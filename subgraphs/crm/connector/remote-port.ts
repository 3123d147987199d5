import type { Money } from '../../../lib/money';
import type { ChangePage, InboundWebhook, RemoteChangeEvent, RemoteRecord } from '../../../lib/connectors/remote';
import type { LifecycleStage, OpportunityStage } from './models';

/**
 * What the sync engine needs from a remote CRM (HubSpot, ...), bound to one connection. The engine owns canonical
 * ids and the ledger; this port only moves records across the vendor's boundary. Every call goes through the
 * connection's `Outbound` and fails with the errors of lib/connectors/errors.ts.
 */
export interface CrmRemote {
  readonly vendor: string;
  /**
   * Whether the credentials reach the vendor (a connection's "test"): one cheap authenticated read. Resolves with the
   * vendor's account id; rejects with AuthError for refused credentials, TransientError when unreachable.
   */
  checkAccess(): Promise<{ accountId: string }>;
  /**
   * Creates or updates records keyed by our canonical id (kept by the vendor in a unique field), so a retried write
   * finds the record it created instead of making a second one. Only the fields given are written.
   */
  upsert<K extends CrmKind>(kind: K, writes: readonly CrmUpsert<K>[]): Promise<RemoteRecord<CrmFields[K]>[]>;
  /**
   * Writes our canonical id onto a record born at the vendor (the unique field `upsert` keys by), so later upserts
   * of that canonical id update it instead of creating a second record. The caller has read the records and seen them
   * without one; writing the same id again changes nothing. Batched (an initial sync claims a page at a time); resolves
   * with the claimed versions (records the vendor no longer has are absent).
   */
  claim<K extends CrmKind>(kind: K, claims: readonly { remoteId: string; canonicalId: string }[]): Promise<RemoteRecord<CrmFields[K]>[]>;
  /** Records by remote id, in batches; ids the vendor does not have (or archived) are absent. */
  get<K extends CrmKind>(kind: K, remoteIds: readonly string[]): Promise<RemoteRecord<CrmFields[K]>[]>;
  /** Records changed since `cursor` (null: from the beginning, i.e. the initial sync), oldest first. */
  changes<K extends CrmKind>(kind: K, cursor: string | null, limit: number): Promise<ChangePage<CrmFields[K]>>;
  /** The users records can be assigned to. */
  owners(): Promise<CrmOwner[]>;
  /** Present when the vendor pushes changes; throws `WebhookSignatureError` on a bad or stale signature. */
  readonly webhooks?: { verify(request: InboundWebhook): RemoteChangeEvent<CrmKind>[] };
}

export interface CrmFields {
  account: RemoteAccountFields;
  contact: RemoteContactFields;
  opportunity: RemoteOpportunityFields;
}
export type CrmKind = keyof CrmFields;
export const CRM_KINDS: readonly CrmKind[] = ['account', 'contact', 'opportunity'];

export interface RemoteAccountFields {
  name: string;
  domain: string | null;
  industry: string | null;
  /** Null when the vendor's value maps onto none of ours. */
  lifecycleStage: LifecycleStage | null;
  ownerRemoteId: string | null;
  /** Vendor fields the connection's field mappings map onto our custom fields, by our field name (all mapped ones). */
  custom?: Record<string, string | null>;
}

export interface RemoteContactFields {
  firstName: string;
  lastName: string;
  email: string;
  phone: string | null;
  title: string | null;
  /** The company the contact belongs to (its primary association). */
  accountRemoteId: string | null;
}

export interface RemoteOpportunityFields {
  name: string;
  /** Mapped through the connection's pipeline-stage settings; null for a stage the mapping does not know. */
  stage: OpportunityStage | null;
  amount: Money | null;
  closeDate: string | null;
  accountRemoteId: string | null;
}

export interface CrmUpsert<K extends CrmKind> {
  canonicalId: string;
  fields: Partial<CrmFields[K]>;
  /** Vendor fields written verbatim (per-tenant field mappings onto custom properties). */
  custom?: Readonly<Record<string, string | null>>;
}

export interface CrmOwner {
  remoteId: string;
  email: string | null;
  name: string;
}
