import type { SubgraphName } from '../schema';
import type { Scope } from './principal';

/**
 * The one policy table: which scope each subgraph's fields need. Reads of a subgraph's root and entity fields need
 * its `read` scope, its mutations its `write` scope; `fields` overrides single `Type.field`s (`'public'` = any
 * authenticated caller of the tenant). Value types (Money, connections, edges) inherit their parent's decision:
 * their parent field was already authorized. Anything not covered is denied.
 */
export interface SubgraphPolicy {
  read: Scope;
  write: Scope;
  /** Object types whose fields are plain values under an authorized parent field. */
  valueTypes: readonly string[];
  fields?: Readonly<Record<string, Scope | 'public'>>;
}

const COMMON_VALUE_TYPES = ['Money', 'ExternalRef', 'PageInfo'];
const connections = (...types: string[]) => types.flatMap((t) => [`${t}Connection`, `${t}Edge`]);

export const POLICY: Record<SubgraphName, SubgraphPolicy> = {
  crm: {
    read: 'crm:read',
    write: 'crm:write',
    valueTypes: [...COMMON_VALUE_TYPES, 'Address', ...connections('Account', 'Contact', 'Opportunity')],
  },
  erp: {
    read: 'finance:read',
    write: 'finance:write',
    valueTypes: [...COMMON_VALUE_TYPES, 'InvoiceLine', 'PaymentApplication', 'JournalLine', ...connections('Invoice', 'Payment', 'JournalEntry')],
  },
  billing: {
    read: 'billing:read',
    write: 'billing:write',
    valueTypes: [...COMMON_VALUE_TYPES, 'Price', 'SubscriptionItem', ...connections('BillingSubscription')],
  },
  sync: {
    read: 'sync:read',
    write: 'sync:write',
    valueTypes: [...COMMON_VALUE_TYPES, 'SyncJobTransition', 'SyncEvent', 'SystemSyncStatus', 'DriftItem', 'AuditEntry', ...connections('SyncJob', 'AuditEntry')],
    fields: {
      // Quote-to-cash closes a deal: a CRM write that drives billing and ERP writes.
      'Mutation.closeOpportunityWon': 'crm:write',
      'Query.auditEntries': 'admin',
      // Checked per kind in the resolver (finance:read / billing:read): status events are not sync data.
      'Query.statusEvents': 'public',
    },
  },
};

/** Federation plumbing the gateway needs; callers only reach it through the signed gateway path. */
export const FEDERATION_FIELDS = ['Query._entities', 'Query._service', '_Service.sdl'];

/**
 * The gateway's subscription root fields (gateway/subscriptions), each by the subgraph whose data it streams: a
 * subscriber needs that subgraph's `read` scope, as a query of the same data would. Fields not listed are denied.
 */
const SUBSCRIPTION_SOURCES: Readonly<Record<string, SubgraphName>> = {
  syncStatusChanged: 'sync',
  invoiceStatusChanged: 'erp',
  subscriptionStatusChanged: 'billing',
};

/** The scope a subscription root field needs, or null when the field is not in the table (deny). */
export function subscriptionScope(field: string): Scope | null {
  const source = Object.hasOwn(SUBSCRIPTION_SOURCES, field) ? SUBSCRIPTION_SOURCES[field] : undefined;
  return source ? POLICY[source].read : null;
}
