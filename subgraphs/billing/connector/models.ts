import type { Money } from '../../../lib/money';

export type BillingInterval = 'MONTH' | 'YEAR';
export type BillingSubscriptionStatus = 'TRIALING' | 'ACTIVE' | 'PAST_DUE' | 'CANCELED';

export interface ExternalRefModel {
  system: 'CRM' | 'ERP' | 'BILLING';
  remoteId: string;
  remoteUpdatedAt: string | null;
}

/** The billing system's customer record for a canonical account (same id). */
export interface BillingCustomerModel {
  id: string;
  remoteId: string;
  /** Null when the customer was created implicitly by a subscription: billing does not own account names. */
  name: string | null;
  currency: string;
  paymentTermsDays: number;
  createdAt: string;
  updatedAt: string;
}

/** The billing view of an account: exists for every account id, customer or not. */
export interface BillingAccountModel {
  id: string;
  /** Null when the account has no billing customer. */
  paymentTermsDays: number | null;
}

export interface PriceModel {
  id: string;
  planId: string;
  currency: string;
  unitAmount: Money;
  interval: BillingInterval;
}

export interface PlanModel {
  id: string;
  code: string;
  name: string;
  active: boolean;
  prices: PriceModel[];
}

export interface SubscriptionItemModel {
  id: string;
  planId: string;
  price: PriceModel;
  quantity: number;
}

/** A subscription always travels with its items (loaded in the same statement). */
export interface BillingSubscriptionModel {
  id: string;
  accountId: string;
  remoteId: string;
  status: BillingSubscriptionStatus;
  currency: string;
  currentPeriodStart: string;
  currentPeriodEnd: string;
  trialEnd: string | null;
  canceledAt: string | null;
  createdAt: string;
  updatedAt: string;
  items: SubscriptionItemModel[];
}

/** The billing side of an ERP invoice; all null when billing did not raise it. */
export interface BillingInvoiceModel {
  id: string;
  subscriptionId: string | null;
  billingPeriodStart: string | null;
  billingPeriodEnd: string | null;
}

export type IssuedInvoiceStatus = 'ISSUED' | 'PAID' | 'VOID';

/** An invoice billing issued for a subscription period (sync posts it to the ERP under the same id). */
export interface IssuedInvoiceModel {
  id: string;
  subscriptionId: string;
  accountId: string;
  status: IssuedInvoiceStatus;
  amount: Money;
  amountPaid: Money;
  periodStart: string;
  periodEnd: string;
}

export interface BillingPaymentModel {
  id: string;
  invoiceId: string;
  amount: Money;
  receivedAt: string;
}

/** `Account.subscriptions` is a plain list: no page, but the same incremental-read options as every list. */
export interface SubscriptionListOptions {
  updatedAfter: string | null;
  order: 'ID' | 'UPDATED_AT';
}

export interface SubscriptionFilter {
  accountId?: string | null;
  statuses?: readonly BillingSubscriptionStatus[] | null;
  planCode?: string | null;
}

/** A price found for a plan code, for turning `{ planCode, interval }` items into price ids. */
export type PlanPriceModel = PriceModel & { planCode: string };

export interface NewSubscriptionItem {
  planId: string;
  priceId: string;
  quantity: number;
}

export interface NewSubscription {
  /** A caller-chosen id makes the create idempotent: a retry with the same id returns the first subscription. */
  id?: string;
  accountId: string;
  currency: string;
  status: Extract<BillingSubscriptionStatus, 'TRIALING' | 'ACTIVE'>;
  /** First day of the first period (ISO date); the period lasts one month. */
  periodStart: string;
  /** Trial length from periodStart; 0 means no trial. */
  trialDays: number;
  items: readonly NewSubscriptionItem[];
}

/** What sync writes into billing for a CRM account. Billing owns payment terms, so they are never overwritten. */
export interface CustomerUpsert {
  id: string;
  name: string;
  currency: string;
}
