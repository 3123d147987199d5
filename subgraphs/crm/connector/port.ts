import type { Page } from '../../../lib/pagination';
import type {
  AccountChanges, AccountFilter, AccountModel, ContactChanges, ContactFilter, ContactModel, ExternalRefModel, NewAccount,
  NewContact, NewOpportunity, OpportunityChanges, OpportunityFilter, OpportunityModel, OpportunityStage,
} from './models';

/**
 * What the CRM subgraph needs from a CRM system of record, already bound to one tenant: an adapter cannot be asked
 * for another tenant's data. Batch methods take many ids so loaders turn N lookups into one call.
 */
export interface CrmConnector {
  accountsByIds(ids: readonly string[]): Promise<AccountModel[]>;
  listAccounts(filter: AccountFilter, page: Page): Promise<AccountModel[]>;
  contactsByIds(ids: readonly string[]): Promise<ContactModel[]>;
  listContacts(filter: ContactFilter, page: Page): Promise<ContactModel[]>;
  /** Up to `page.limit + 1` contacts per account. */
  contactPagesByAccounts(accountIds: readonly string[], page: Page): Promise<ContactModel[]>;
  opportunitiesByIds(ids: readonly string[]): Promise<OpportunityModel[]>;
  listOpportunities(filter: OpportunityFilter, page: Page): Promise<OpportunityModel[]>;
  opportunityPagesByAccounts(accountIds: readonly string[], filter: OpportunityFilter, page: Page): Promise<OpportunityModel[]>;
  /** Links to the ids these records have in other systems, keyed by entity id. */
  externalIdsByEntities(ids: readonly string[]): Promise<(ExternalRefModel & { entityId: string })[]>;
  /** The vendor records behind these entities' external ids (only ids whose system is a vendor that sent one). */
  remoteDataByEntities(ids: readonly string[]): Promise<{ entityId: string; system: ExternalRefModel['system']; remoteData: Record<string, unknown> }[]>;
  /** Records (or moves) the id a record has in another system: what sync writes once a downstream record exists. */
  recordExternalId(entityId: string, ref: ExternalRefModel): Promise<void>;

  /** `id`: a caller-chosen canonical id (an account born in a vendor CRM gets one derived from its vendor id). */
  createAccount(input: NewAccount, id?: string): Promise<AccountModel>;
  updateAccount(id: string, changes: AccountChanges): Promise<AccountModel | null>;
  /** `id`: a caller-chosen canonical id (a contact or deal born in a vendor CRM gets one derived from its vendor id). */
  createContact(input: NewContact, id?: string): Promise<ContactModel>;
  updateContact(id: string, changes: ContactChanges): Promise<ContactModel | null>;
  createOpportunity(input: NewOpportunity, id?: string): Promise<OpportunityModel>;
  setOpportunityStage(id: string, stage: OpportunityStage): Promise<OpportunityModel | null>;
  /** Several fields at once (a deal changed in a vendor CRM); the account must exist for the tenant. */
  updateOpportunity(id: string, changes: OpportunityChanges): Promise<OpportunityModel | null>;
}
