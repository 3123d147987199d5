import type { Money } from '../../../lib/money';
import { WebhookSignatureError } from '../../../lib/connectors/remote';
import type { BillingInterval, BillingSubscriptionModel, CustomerUpsert, IssuedInvoiceStatus } from './models';

/**
 * A billing system of record that lives outside our database (Stripe first), as the sync engine needs it.
 *
 * A remote system cannot join our transactions, so this port is not `BillingConnector`: our writes reach it as
 * idempotent sync jobs, and its changes reach us as events (webhooks or polling) after which we re-read the record
 * by id. One instance is bound to one connection (one tenant's account at the vendor) when it is created.
 *
 * Conventions of every method:
 * - Ids: `remoteId` is the vendor's id (`cus_...`); `canonicalId` is ours, stored in the vendor record's metadata under
 *   {@link CANONICAL_ID_METADATA_KEY} so a record can always be traced back (null for records created at the vendor).
 * - Money is minor units as a string with an upper-case ISO-4217 currency, never a float. Dates of periods are ISO
 *   dates (`2026-12-01`), instants ISO-8601 date-times.
 * - Every write takes {@link WriteOptions}: our deterministic key for this write (derived from the job and step). The
 *   adapter sends it as the vendor's idempotency mechanism, so the same write retried never creates a second record;
 *   a write made of several vendor calls derives one sub-key per call from it.
 * - Failures are the errors of `lib/connectors/errors.ts`: TransientError (retry, with Retry-After when the vendor
 *   gave one), PermanentError (the vendor's error code kept, e.g. Stripe's `resource_missing`), AuthError
 *   (credentials refused). A record that does not exist is `null` from a retrieve, and a PermanentError from a write
 *   that needs it.
 */
export interface BillingRemote {
  /** The vendor's name for this adapter, as stored on connections and in `ExternalRef.system` links. */
  readonly vendor: string;

  /**
   * Whether the credentials reach the vendor: one cheap authenticated read. Resolves with the vendor's account id;
   * rejects with AuthError for refused credentials, TransientError when the vendor cannot be reached.
   */
  checkAccess(): Promise<{ accountId: string }>;

  /**
   * Creates the customer of canonical account `input.id`, or updates it when `remoteId` is known (from our link).
   * Only the name is written: `input.currency` is not sent, as Stripe fixes a customer's currency itself with its
   * first subscription or invoice. With `remoteId` null the write is a create: a retry with the same key returns the
   * same customer (so pass the link's remote id whenever there is one, and record the link before the job ends).
   * @returns the customer as it now is at the vendor, with the remote id to record as the link.
   */
  upsertCustomer(input: CustomerUpsert & { remoteId: string | null }, options: WriteOptions): Promise<RemoteCustomer>;

  /**
   * Creates a product with one price per entry (the plan's catalogue at the vendor), for seeding and initial sync.
   * Plan code and canonical id go into the product's metadata.
   */
  createPlan(input: NewRemotePlan, options: WriteOptions): Promise<RemotePlan>;

  /**
   * Starts a subscription for a customer that exists at the vendor. Items reference vendor prices. The subscription
   * is billed by invoice (no card on file is needed), so it becomes active at once.
   */
  createSubscription(input: NewRemoteSubscription, options: WriteOptions): Promise<RemoteSubscription>;

  /**
   * Replaces all items of a live subscription with `items` (items not listed are removed, no proration). Items
   * already as asked are left alone, so a retry after a lost answer changes nothing. PermanentError when there is no
   * such subscription, with code `SUBSCRIPTION_CANCELED` when it is canceled.
   */
  replaceSubscriptionItems(remoteId: string, items: readonly RemoteItemInput[], options: WriteOptions): Promise<RemoteSubscription>;

  /**
   * Cancels now (status CANCELED), or at the end of the current period (`cancelAtPeriodEnd`, status kept until then).
   * Canceling a subscription already canceled returns it unchanged.
   */
  cancelSubscription(remoteId: string, atPeriodEnd: boolean, options: WriteOptions): Promise<RemoteSubscription>;

  /**
   * Raises a draft invoice with these lines for a customer (optionally tied to one of its subscriptions), sent for
   * payment by bank transfer or the like (`daysUntilDue`), not charged automatically. Nothing else is swept into it.
   * @returns the DRAFT invoice; {@link finalizeInvoice} issues it.
   */
  createInvoice(input: NewRemoteInvoice, options: WriteOptions): Promise<RemoteInvoice>;

  /** Issues a draft invoice (DRAFT -> ISSUED, a number is assigned). An invoice already issued is returned as it is. */
  finalizeInvoice(remoteId: string, options: WriteOptions): Promise<RemoteInvoice>;

  /**
   * Marks an issued invoice paid outside the vendor (our billing recorded the payment). An invoice already PAID is
   * returned as it is.
   */
  markInvoicePaid(remoteId: string, options: WriteOptions): Promise<RemoteInvoice>;

  /** Re-reads a record by its vendor id (webhooks are hints: never trust a payload's order or content). Null when absent or deleted. */
  retrieveCustomer(remoteId: string): Promise<RemoteCustomer | null>;
  retrieveSubscription(remoteId: string): Promise<RemoteSubscription | null>;
  retrieveInvoice(remoteId: string): Promise<RemoteInvoice | null>;
  /** Every payment of one invoice (partial payments each with their own id), oldest first. */
  listInvoicePayments(invoiceRemoteId: string): Promise<RemoteInvoicePayment[]>;
  retrievePrice(remoteId: string): Promise<RemotePrice | null>;

  /**
   * One page of the vendor's records, newest first as the vendor lists them, for initial sync and reconciliation.
   * Pass the returned `nextCursor` to get the next page; `hasMore` false means this was the last page.
   */
  listCustomers(page: RemotePageRequest): Promise<RemotePage<RemoteCustomer>>;
  /** All statuses, canceled included; `customerRemoteId` narrows to one customer. */
  listSubscriptions(page: RemotePageRequest & { customerRemoteId?: string }): Promise<RemotePage<RemoteSubscription>>;
  listInvoices(page: RemotePageRequest & { customerRemoteId?: string; subscriptionRemoteId?: string }): Promise<RemotePage<RemoteInvoice>>;
  /** Prices (active and not), each with its product's plan code. */
  listPrices(page: RemotePageRequest): Promise<RemotePage<RemotePrice>>;
}

/**
 * Remote changes pushed to us, for one connection (bound to its signing secret when created).
 */
export interface BillingWebhooks {
  /**
   * Verifies the signature of a webhook delivery over the exact bytes received (never a re-serialised body) and
   * within the timestamp tolerance, then reads which record changed. The event is a hint: the job it becomes must
   * re-read the record with the `retrieve*` methods.
   * @param rawBody the request body exactly as received
   * @param signatureHeader the vendor's signature header (`Stripe-Signature`), undefined when missing
   * @throws WebhookVerificationError when the signature is missing, wrong or too old (answer 401, store nothing)
   */
  verify(rawBody: Buffer | string, signatureHeader: string | undefined): RemoteEvent;
}

/** A verified webhook event, reduced to what dedup and the resulting job need. */
export interface RemoteEvent {
  /** The vendor's event id: the dedup key (vendors deliver at least once). */
  eventId: string;
  /** The vendor's event type, e.g. `invoice.paid`, `customer.subscription.updated`. */
  type: string;
  /** Which kind of record changed; `other` for kinds we do not sync (the event can be acknowledged and dropped). */
  objectKind: RemoteObjectKind;
  /** The vendor id of the record that changed, to re-read. */
  remoteId: string;
  /** When the vendor created the event (ISO-8601), to order what must be ordered and to measure lag. */
  created: string;
}

export type RemoteObjectKind = 'customer' | 'subscription' | 'invoice' | 'price' | 'product' | 'other';

/**
 * A webhook that must be refused with 401: missing, malformed, wrongly signed or outside the timestamp tolerance.
 * The billing name of the one signature error every vendor port throws (`WEBHOOK_SIGNATURE_INVALID`).
 */
export class WebhookVerificationError extends WebhookSignatureError {}

/** The metadata key under which our canonical id is stored in every vendor record we create. */
export const CANONICAL_ID_METADATA_KEY = 'canonicalId';
/** The metadata key of a product's plan code. */
export const PLAN_CODE_METADATA_KEY = 'planCode';

export interface WriteOptions {
  /**
   * Our deterministic key for this one write (same job and step -> same key). Reusing a key with different inputs
   * is a bug the vendor refuses: PermanentError (Stripe: `idempotency_error`).
   */
  idempotencyKey: string;
}

export interface RemotePageRequest {
  /** The cursor of the previous page (`nextCursor`); absent for the first page. */
  startingAfter?: string | null;
  /** Page size, 1 to 100 (the vendor's bound). */
  limit: number;
}

export interface RemotePage<T> {
  items: T[];
  hasMore: boolean;
  /** The cursor for the next page; null when `hasMore` is false. */
  nextCursor: string | null;
}

/** What every record read from the vendor carries besides its canonical fields. */
export interface RemoteRecord {
  remoteId: string;
  /** Our id from the record's metadata; null when the record was created at the vendor, not by us. */
  canonicalId: string | null;
  /**
   * When the record last changed, ISO-8601. Vendors that keep no update time (Stripe) give the time this state was
   * read (the response's Date), which orders our reads of the same record.
   */
  remoteUpdatedAt: string;
  /** The vendor's record as received (JSON), kept for `remoteData`-style passthrough and debugging. */
  remoteData: unknown;
}

export interface RemoteCustomer extends RemoteRecord {
  name: string | null;
  email: string | null;
  /** Upper-case ISO-4217; null until the vendor fixes the customer's currency. */
  currency: string | null;
}

export interface RemotePrice extends RemoteRecord {
  /** The vendor id of the product (our Plan). */
  productRemoteId: string;
  /** The product's plan code (metadata), null for products created at the vendor without one. */
  planCode: string | null;
  unitAmount: Money;
  interval: BillingInterval;
  active: boolean;
}

export interface RemotePlan extends RemoteRecord {
  code: string;
  name: string;
  active: boolean;
  prices: RemotePrice[];
}

export interface RemoteSubscriptionItem {
  remoteId: string;
  price: RemotePrice;
  quantity: number;
}

/**
 * `status` is the vendor's status on our scale: incomplete/unpaid -> PAST_DUE, paused -> ACTIVE (nothing billed but
 * not ended), incomplete_expired -> CANCELED; the vendor's own value stays in `remoteData`.
 */
export interface RemoteSubscription
  extends RemoteRecord, Pick<BillingSubscriptionModel, 'status' | 'currency' | 'currentPeriodStart' | 'currentPeriodEnd' | 'trialEnd' | 'canceledAt'> {
  customerRemoteId: string;
  cancelAtPeriodEnd: boolean;
  items: RemoteSubscriptionItem[];
  /**
   * The newest invoice the vendor raised for it. Stripe raises (and issues) a subscription's first invoice itself
   * when the subscription is created, so quote-to-cash reads it here rather than raising a second one.
   */
  latestInvoiceRemoteId: string | null;
}

/** DRAFT until finalized; open and uncollectible invoices are ISSUED on our scale. */
export type RemoteInvoiceStatus = 'DRAFT' | IssuedInvoiceStatus;

export interface RemoteInvoiceLine {
  remoteId: string;
  description: string | null;
  amount: Money;
  quantity: number;
}

export interface RemoteInvoice extends RemoteRecord {
  customerRemoteId: string;
  subscriptionRemoteId: string | null;
  /** The vendor's invoice number, assigned when issued. */
  number: string | null;
  status: RemoteInvoiceStatus;
  total: Money;
  amountDue: Money;
  amountPaid: Money;
  amountRemaining: Money;
  periodStart: string;
  periodEnd: string;
  dueDate: string | null;
  lines: RemoteInvoiceLine[];
}

export type RemoteInvoicePaymentStatus = 'PAID' | 'OPEN' | 'CANCELED';

/** One payment towards an invoice at the vendor; an invoice paid in parts has several. */
export interface RemoteInvoicePayment {
  remoteId: string;
  invoiceRemoteId: string;
  status: RemoteInvoicePaymentStatus;
  /** What this payment paid (zero unless PAID). */
  amount: Money;
  paidAt: string | null;
}

export interface RemoteItemInput {
  priceRemoteId: string;
  quantity: number;
}

export interface NewRemoteSubscription {
  /** Our subscription id, stored in metadata. */
  canonicalId: string;
  customerRemoteId: string;
  items: readonly RemoteItemInput[];
  /** Trial length in days; 0 means none. */
  trialDays: number;
  /** Payment terms of the invoices it generates. */
  daysUntilDue: number;
}

export interface NewRemotePlan {
  canonicalId: string;
  code: string;
  name: string;
  prices: readonly { canonicalId: string; unitAmount: Money; interval: BillingInterval }[];
}

export interface NewRemoteInvoice {
  /** Our invoice id, stored in metadata. */
  canonicalId: string;
  customerRemoteId: string;
  subscriptionRemoteId: string | null;
  currency: string;
  daysUntilDue: number;
  /** At least one line; `amount` is the line total in the invoice's currency. */
  lines: readonly { description: string; amount: Money }[];
}
