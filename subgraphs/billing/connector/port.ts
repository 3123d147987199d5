import type { Page } from '../../../lib/pagination';
import type {
  CustomerUpsert, BillingCustomerModel, BillingInvoiceModel, BillingPaymentModel, BillingSubscriptionModel, BillingSubscriptionStatus,
  ExternalRefModel, IssuedInvoiceModel, NewSubscription, NewSubscriptionItem, PlanModel, PlanPriceModel, SubscriptionFilter,
} from './models';

/**
 * Invoices billing issues for a subscription's period and the payments collected against them. Broken rules (issuing
 * for a CANCELED subscription, paying a non-open invoice, overpaying) throw `BillingRuleViolation` from `./errors`.
 */
export interface BillingInvoicing {
  issuedInvoicesByIds(ids: readonly string[]): Promise<IssuedInvoiceModel[]>;
  billingPaymentsByIds(ids: readonly string[]): Promise<BillingPaymentModel[]>;
  /** Issues the invoice for the current period; `amountMinor` is computed by the caller. Null when the subscription does not exist. */
  issueInvoice(subscriptionId: string, amountMinor: string): Promise<IssuedInvoiceModel | null>;
  /** Records a payment; the invoice turns PAID when fully paid. Null when the invoice does not exist. */
  recordInvoicePayment(invoiceId: string, amountMinor: string): Promise<{ invoice: IssuedInvoiceModel; payment: BillingPaymentModel } | null>;
}

/**
 * What the billing subgraph needs from a billing system of record, already bound to one tenant: an adapter cannot be
 * asked for another tenant's data. Batch methods take many ids so loaders turn N lookups into one call, and
 * subscriptions always come back with their items. A declared interface: the reference store and the mirror + vendor
 * port both implement it, and one contract suite (test/contracts/billing-connector.contract.ts) runs over both.
 */
export interface BillingConnector extends BillingInvoicing {
  customersByIds(ids: readonly string[]): Promise<BillingCustomerModel[]>;
  plansByIds(ids: readonly string[]): Promise<PlanModel[]>;
  listPlans(activeOnly: boolean): Promise<PlanModel[]>;
  /** Prices in `currency` of the active plans with these codes (inactive plans are not sold any more). */
  activePricesByPlanCodes(codes: readonly string[], currency: string): Promise<PlanPriceModel[]>;
  subscriptionsByIds(ids: readonly string[]): Promise<BillingSubscriptionModel[]>;
  /** All subscriptions of these accounts, optionally only those in `statuses`. */
  subscriptionsByAccounts(accountIds: readonly string[], statuses: readonly BillingSubscriptionStatus[] | null): Promise<BillingSubscriptionModel[]>;
  listSubscriptions(filter: SubscriptionFilter, page: Page): Promise<BillingSubscriptionModel[]>;
  /** The billing side of these ERP invoices; invoices billing did not raise are absent. */
  invoicesByIds(ids: readonly string[]): Promise<BillingInvoiceModel[]>;
  /** Ids of the (ERP) invoices billing says it billed, in id order after `afterId`: what reconciliation checks in the ERP. */
  linkedInvoiceIds(afterId: string | null, limit: number): Promise<string[]>;
  /** Links to the ids these records have in other systems, keyed by entity id. */
  externalIdsByEntities(ids: readonly string[]): Promise<(ExternalRefModel & { entityId: string })[]>;

  /** Creates the subscription, and the account's billing customer (in `input.currency`) when it has none. */
  createSubscription(input: NewSubscription): Promise<BillingSubscriptionModel>;
  /** Creates or renames the account's billing customer (sync from CRM); payment terms stay billing's. */
  upsertCustomer(input: CustomerUpsert): Promise<{ remoteId: string; updatedAt: string }>;
  /** Records which subscription and period an ERP invoice bills (idempotent). */
  linkInvoice(invoiceId: string, subscriptionId: string, periodStart: string, periodEnd: string): Promise<void>;
  /** Replaces all items. Null when the subscription does not exist or is CANCELED. */
  replaceItems(id: string, items: readonly NewSubscriptionItem[]): Promise<BillingSubscriptionModel | null>;
  /**
   * Cancels now (status CANCELED), or at the end of the current period (canceled_at set, status kept).
   * Null when the subscription does not exist or is already CANCELED.
   */
  cancelSubscription(id: string, atPeriodEnd: boolean): Promise<BillingSubscriptionModel | null>;
}
