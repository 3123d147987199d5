/**
 * Shapes every vendor port shares (CRM, ERP; billing has its own): a remote record with both ids and the raw vendor
 * object, a page of changes behind an opaque cursor, and a verified inbound webhook. The sync engine stores the
 * cursor per connection and kind, and advances it only once the page's changes are in the ledger.
 */

/** A JSON object as the vendor sent it (kept verbatim for `remoteData`). */
export type JsonObject = { [key: string]: unknown };

export interface RemoteRecord<F> {
  /** The vendor's id. */
  remoteId: string;
  /** Our canonical id as the vendor keeps it (a custom property, a reference field); null for records born there. */
  canonicalId: string | null;
  /** The vendor's last-modified time, ISO-8601: the engine drops an event that is not newer than what it holds. */
  remoteUpdatedAt: string;
  /** The record mapped onto canonical fields. */
  fields: F;
  /** The vendor's own record, unmapped, for `remoteData` and per-tenant field mappings. */
  remoteData: JsonObject;
}

/**
 * One page of records changed since a cursor. Pages overlap on purpose (a window for clock skew and late commits),
 * so a consumer must treat a record it already holds at the same `remoteUpdatedAt` as no change: re-reading a page
 * changes nothing.
 */
export interface ChangePage<F> {
  records: RemoteRecord<F>[];
  /** Where the next read starts; opaque, to be stored as is. */
  cursor: string;
  /** True while the vendor has more changes right now; false once caught up (poll again later). */
  hasMore: boolean;
}

/** An HTTP request as the webhook route received it: the raw body, before any JSON parsing. */
export interface InboundWebhook {
  method: string;
  /** The full public URL the vendor called (scheme, host, path and query), as signed by the vendor. */
  url: string;
  headers: Readonly<Record<string, string | undefined>>;
  rawBody: Buffer;
}

/** A change the vendor told us about. Never trusted for content or order: the engine re-reads the record by id. */
export interface RemoteChangeEvent<K extends string> {
  /** Unique per delivery of one change, for deduplication. */
  eventId: string;
  kind: K;
  remoteId: string;
  change: 'created' | 'updated' | 'deleted';
  occurredAt: string;
}

/** A webhook whose signature or timestamp does not check out: answered 401, nothing stored. */
export class WebhookSignatureError extends Error {
  readonly code = 'WEBHOOK_SIGNATURE_INVALID';
}
