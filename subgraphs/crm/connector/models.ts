import type { Money } from '../../../lib/money';

export type LifecycleStage = 'LEAD' | 'PROSPECT' | 'CUSTOMER' | 'CHURNED';
export type OpportunityStage = 'PROSPECTING' | 'QUALIFICATION' | 'PROPOSAL' | 'NEGOTIATION' | 'CLOSED_WON' | 'CLOSED_LOST';
export const CLOSED_STAGES: readonly OpportunityStage[] = ['CLOSED_WON', 'CLOSED_LOST'];

export interface Address {
  line1: string;
  line2: string | null;
  city: string;
  region: string | null;
  postalCode: string | null;
  country: string;
}

export interface ExternalRefModel {
  system: 'CRM' | 'ERP' | 'BILLING';
  remoteId: string;
  remoteUpdatedAt: string | null;
  /** The vendor's record as it sent it, when the system is a vendor (written by sync, read as `remoteData`). */
  remoteData?: Record<string, unknown> | null;
}

export interface AccountModel {
  id: string;
  remoteId: string;
  name: string;
  domain: string | null;
  industry: string | null;
  lifecycleStage: LifecycleStage;
  billingAddress: Address | null;
  owner: string | null;
  /** Vendor fields a tenant maps onto the account (its connection's field mappings), by our field name. */
  customFields: Record<string, string | null>;
  createdAt: string;
  updatedAt: string;
}

export interface ContactModel {
  id: string;
  accountId: string;
  remoteId: string;
  firstName: string;
  lastName: string;
  email: string;
  phone: string | null;
  title: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface OpportunityModel {
  id: string;
  accountId: string;
  remoteId: string;
  name: string;
  stage: OpportunityStage;
  amount: Money;
  closeDate: string | null;
  planCode: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface AccountFilter {
  nameContains?: string | null;
  domain?: string | null;
  industry?: string | null;
  lifecycleStage?: LifecycleStage | null;
}

export interface OpportunityFilter {
  accountId?: string | null;
  stages?: readonly OpportunityStage[] | null;
  open?: boolean | null;
}

export interface ContactFilter {
  accountId?: string | null;
  emailContains?: string | null;
}

export type NewAccount = Omit<AccountModel, 'id' | 'remoteId' | 'createdAt' | 'updatedAt' | 'customFields'> & { customFields?: Record<string, string | null> };
export type AccountChanges = Partial<NewAccount>;
export type NewContact = Omit<ContactModel, 'id' | 'remoteId' | 'createdAt' | 'updatedAt'>;
/** `accountId` moves the contact to another account (a vendor CRM's company association changed). */
export type ContactChanges = Partial<NewContact>;
export type NewOpportunity = Omit<OpportunityModel, 'id' | 'remoteId' | 'createdAt' | 'updatedAt'>;
export type OpportunityChanges = Partial<Omit<NewOpportunity, 'planCode'>>;
