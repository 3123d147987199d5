import type DataLoader from 'dataloader';
import type { Db } from '../../lib/db/db';
import { billingWriteHooks } from './hooks';
import { byIdLoader, byParentLoader, childPageLoader } from '../../lib/loaders';
import type { RequestBase } from '../runtime/server';
import type {
  BillingCustomerModel, BillingInvoiceModel, IssuedInvoiceModel, BillingSubscriptionModel, BillingSubscriptionStatus, ExternalRefModel, PlanModel,
} from './connector/models';
import type { BillingConnector } from './connector/port';
import { billingReferenceStore } from './connector/reference-store';

/** Status filter of `Account.subscriptions`, normalised (sorted, no duplicates, null for none) so equal filters batch together. */
export type StatusFilter = readonly BillingSubscriptionStatus[] | null;

export interface BillingLoaders {
  customer: DataLoader<string, BillingCustomerModel | null>;
  plan: DataLoader<string, PlanModel | null>;
  subscription: DataLoader<string, BillingSubscriptionModel | null>;
  invoice: DataLoader<string, BillingInvoiceModel | null>;
  issuedInvoice: DataLoader<string, IssuedInvoiceModel | null>;
  accountSubscriptions: DataLoader<{ parentId: string; args: StatusFilter }, BillingSubscriptionModel[], string>;
  externalIds: DataLoader<string, (ExternalRefModel & { entityId: string })[]>;
}

export interface BillingContext extends RequestBase {
  billing: BillingConnector;
  loaders: BillingLoaders;
}

export function billingContext(base: RequestBase, db: Db): BillingContext {
  const billing = billingReferenceStore(db, base.tenant, billingWriteHooks(base.tenant, base.correlationId, { pushToRemote: true }));
  return {
    ...base,
    billing,
    loaders: {
      customer: byIdLoader((ids) => billing.customersByIds(ids)),
      plan: byIdLoader((ids) => billing.plansByIds(ids)),
      subscription: byIdLoader((ids) => billing.subscriptionsByIds(ids)),
      invoice: byIdLoader((ids) => billing.invoicesByIds(ids)),
      issuedInvoice: byIdLoader((ids) => billing.issuedInvoicesByIds(ids)),
      accountSubscriptions: childPageLoader((statuses: StatusFilter, ids) => billing.subscriptionsByAccounts(ids, statuses), (s) => s.accountId),
      externalIds: byParentLoader((ids) => billing.externalIdsByEntities(ids), (r) => r.entityId),
    },
  };
}

export function statusFilter(statuses: readonly BillingSubscriptionStatus[] | null | undefined): StatusFilter {
  return statuses?.length ? [...new Set(statuses)].sort() : null;
}
