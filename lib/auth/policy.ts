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
    valueTypes: [...COMMON_VALUE_TYPES, 'Address', 'CustomField', ...connections('Account', 'Contact', 'Opportunity')],
    fields: {
      // The vendor's raw record: whatever the vendor keeps (owners' emails, notes), so tenant administration only.
      'Account.remoteData': 'admin',
      'Contact.remoteData': 'admin',
      'Opportunity.remoteData': 'admin',
    },
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
    valueTypes: [...COMMON_VALUE_TYPES, 'SyncJobTransition', 'SyncJobProgress', 'SyncEvent', 'SystemSyncStatus', 'DriftItem', 'AuditEntry', ...connections('SyncJob', 'AuditEntry'),
      // Connections: only reachable through the admin fields below.
      'SystemConnection', 'ConnectionStatus', 'ConnectionCredentialInfo', 'ConnectionTestResult',
      // Partner webhooks: likewise only under the admin fields below.
      'PartnerWebhookEndpoint', 'PartnerWebhookEndpointSecret', 'PartnerWebhookDelivery', 'PartnerWebhookAttempt', ...connections('PartnerWebhookDelivery'),

      // Partner operation lists: only reachable through the admin fields below.
      'PartnerOperationList', 'PersistedOperation'],
    fields: {
      // Quote-to-cash closes a deal: a CRM write that drives billing and ERP writes.
      'Mutation.closeOpportunityWon': 'crm:write',
      'Query.auditEntries': 'admin',
      // A tenant's vendor connections and their credentials are tenant administration.
      'Query.connections': 'admin',
      'Query.connection': 'admin',
      'Mutation.createConnection': 'admin',
      'Mutation.testConnection': 'admin',
      'Mutation.rotateConnectionCredentials': 'admin',
      'Mutation.disableConnection': 'admin',
      'Mutation.setConnectionFieldMappings': 'admin',
      'Mutation.startInitialSync': 'admin',
      // Which operations a partner application may send is tenant administration too.
      'Query.partnerOperationLists': 'admin',
      'Mutation.registerPartnerOperations': 'admin',
      // Webhooks to partners: where the tenant's events go, and the secrets that sign them.
      'Query.partnerWebhookEndpoints': 'admin',
      'Query.partnerWebhookEndpoint': 'admin',
      'Query.partnerWebhookDelivery': 'admin',
      'Mutation.createPartnerWebhookEndpoint': 'admin',
      'Mutation.updatePartnerWebhookEndpoint': 'admin',
      'Mutation.disablePartnerWebhookEndpoint': 'admin',
      'Mutation.deletePartnerWebhookEndpoint': 'admin',
      'Mutation.rotatePartnerWebhookSecret': 'admin',
      'Mutation.replayPartnerWebhookDelivery': 'admin',
      // Checked per kind in the resolver (finance:read / billing:read): status events are not sync data.
      'Query.statusEvents': 'public',
    },
  },
};

/** Federation plumbing the gateway needs; callers only reach it through the signed gateway path. */
export const FEDERATION_FIELDS = ['Query._entities', 'Query._service', '_Service.sdl'];

/**
 * Status events are the systems' data, not sync data: reading one kind needs the read scope of the system it comes
 * from, whether it is listed (`Query.statusEvents`) or pushed live (the gateway's subscriptions).
 */
export const STATUS_EVENT_SYSTEMS = { INVOICE_STATUS: 'erp', SUBSCRIPTION_STATUS: 'billing' } as const satisfies Record<string, SubgraphName>;
export type StatusEventKind = keyof typeof STATUS_EVENT_SYSTEMS;

/** The scope a status event kind needs; null for a kind this table does not know (refuse it). */
export function statusEventScope(kind: string): Scope | null {
  return Object.hasOwn(STATUS_EVENT_SYSTEMS, kind) ? POLICY[STATUS_EVENT_SYSTEMS[kind as StatusEventKind]].read : null;
}

/**
 * The gateway's subscription root fields (gateway/subscriptions), each by the subgraph whose data it streams: a
 * subscriber needs that subgraph's `read` scope, as a query of the same data would. Fields not listed are denied.
 */
const SUBSCRIPTION_SOURCES: Readonly<Record<string, SubgraphName>> = {
  syncStatusChanged: 'sync',
  invoiceStatusChanged: STATUS_EVENT_SYSTEMS.INVOICE_STATUS,
  subscriptionStatusChanged: STATUS_EVENT_SYSTEMS.SUBSCRIPTION_STATUS,
};

/** The scope a subscription root field needs, or null when the field is not in the table (deny). */
export function subscriptionScope(field: string): Scope | null {
  const source = Object.hasOwn(SUBSCRIPTION_SOURCES, field) ? SUBSCRIPTION_SOURCES[field] : undefined;
  return source ? POLICY[source].read : null;
}

/**
 * What one field of a subgraph needs, by the rules shield applies (subgraphs/runtime/authorization.ts): `'public'` =
 * any caller of the tenant, `'inherit'` = a value type's field, decided by the field that returned its parent.
 */
export function fieldRule(policy: SubgraphPolicy, type: string, field: string): Scope | 'public' | 'inherit' {
  const key = `${type}.${field}`;
  if (FEDERATION_FIELDS.includes(key)) return 'public';
  const override = policy.fields?.[key];
  if (override) return override;
  if (type === 'Mutation') return policy.write;
  if (type !== 'Query' && policy.valueTypes.includes(type)) return 'inherit';
  return policy.read;
}

/** What a subgraph's root field needs (`'public'` = any caller of the tenant), by the same rules shield applies. */
export function rootFieldScope(subgraph: SubgraphName, rootType: 'Query' | 'Mutation', field: string): Scope | 'public' {
  const policy = POLICY[subgraph];
  const key = `${rootType}.${field}`;
  if (FEDERATION_FIELDS.includes(key)) return 'public';
  return policy.fields?.[key] ?? (rootType === 'Mutation' ? policy.write : policy.read);
}
