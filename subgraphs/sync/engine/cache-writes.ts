import { WHOLE_TENANT, type WrittenEntity } from '../../../lib/cache-tags';
import type { SyncEventModel } from '../ledger/models';

/** States that follow a write to a system (a step done, partly done, or undone): cached answers may be stale. */
const AFTER_WRITES = new Set(['SUCCEEDED', 'FAILED', 'DEAD_LETTERED', 'COMPENSATED']);

/** Entity types whose ids in the ledger are our canonical ids (the gateway's cache tags use them). */
const CANONICAL = new Set(['Account', 'Contact', 'Opportunity', 'Invoice', 'Payment', 'BillingSubscription', 'Plan', 'JournalEntry']);

/**
 * What a relayed event says was written, in the response cache's terms (lib/cache-tags.ts). Job events count once
 * their step has written (or may have: FAILED after a partial write); business status events always.
 * - an account upsert wrote that account's view in another system;
 * - quote-to-cash wrote the opportunity and creates a subscription and an invoice for its account;
 * - an invoice post or payment apply creates the ERP record (lists of that type may grow; balances follow);
 * - a remote change (or an initial sync's page) names the vendor's records, not ours, so the whole tenant is evicted;
 *   a remote push, its entity; an initial sync's parent writes nothing itself.
 */
export function writtenByEvent(e: SyncEventModel): (WrittenEntity | typeof WHOLE_TENANT)[] {
  if (e.jobId !== null && !AFTER_WRITES.has(e.state)) return [];
  switch (e.kind) {
    case 'ACCOUNT_UPSERT':
    case 'RECONCILE_REPAIR':
    case 'INVOICE_STATUS':
    case 'SUBSCRIPTION_STATUS':
      return CANONICAL.has(e.entityType) ? [{ type: e.entityType, id: e.entityId }] : [WHOLE_TENANT];
    case 'QUOTE_TO_CASH':
      return [{ type: 'Opportunity', id: e.entityId }, { type: 'BillingSubscription', created: true }, { type: 'Invoice', created: true }];
    case 'INVOICE_POST':
    case 'PAYMENT_APPLY':
      return CANONICAL.has(e.entityType) ? [{ type: e.entityType, id: e.entityId, created: true }] : [WHOLE_TENANT];
    case 'REMOTE_CHANGE':
    case 'REMOTE_PAGE':
      // A page of an initial sync writes many vendor records at once.
      return [WHOLE_TENANT];
    case 'INITIAL_SYNC':
      // The parent only enqueues its pages; they write.
      return [];
    case 'REMOTE_PUSH':
      // Pushes our record's state to the vendor; the mirror we answer from may take the vendor's ids back.
      return CANONICAL.has(e.entityType) ? [{ type: e.entityType, id: e.entityId }] : [WHOLE_TENANT];
  }
}
