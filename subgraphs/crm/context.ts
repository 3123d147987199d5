import type DataLoader from 'dataloader';
import type { Db } from '../../lib/db/db';
import { accountSyncHooks } from './account-sync';
import { byIdLoader, byParentLoader, childPageLoader } from '../../lib/loaders';
import type { Page } from '../../lib/pagination';
import type { RequestBase } from '../runtime/server';
import type { AccountModel, ContactModel, ExternalRefModel, OpportunityFilter, OpportunityModel } from './connector/models';
import type { CrmConnector } from './connector/port';
import { crmReferenceStore } from './connector/reference-store';

export interface CrmLoaders {
  account: DataLoader<string, AccountModel | null>;
  contact: DataLoader<string, ContactModel | null>;
  opportunity: DataLoader<string, OpportunityModel | null>;
  contactPages: DataLoader<{ parentId: string; args: Page }, ContactModel[], string>;
  opportunityPages: DataLoader<{ parentId: string; args: { page: Page; filter: OpportunityFilter } }, OpportunityModel[], string>;
  externalIds: DataLoader<string, (ExternalRefModel & { entityId: string })[]>;
  remoteData: DataLoader<string, { entityId: string; system: ExternalRefModel['system']; remoteData: Record<string, unknown> }[]>;
}

export interface CrmContext extends RequestBase {
  crm: CrmConnector;
  loaders: CrmLoaders;
}

export function crmContext(base: RequestBase, db: Db): CrmContext {
  // Account master sync: the change and its sync jobs commit together (transactional outbox).
  const crm = crmReferenceStore(db, base.tenant, accountSyncHooks(base.tenant, base.correlationId));
  return {
    ...base,
    crm,
    loaders: {
      account: byIdLoader((ids) => crm.accountsByIds(ids)),
      contact: byIdLoader((ids) => crm.contactsByIds(ids)),
      opportunity: byIdLoader((ids) => crm.opportunitiesByIds(ids)),
      contactPages: childPageLoader((page: Page, ids) => crm.contactPagesByAccounts(ids, page), (c) => c.accountId),
      opportunityPages: childPageLoader(
        (args: { page: Page; filter: OpportunityFilter }, ids) => crm.opportunityPagesByAccounts(ids, args.filter, args.page),
        (o) => o.accountId,
      ),
      externalIds: byParentLoader((ids) => crm.externalIdsByEntities(ids), (r) => r.entityId),
      remoteData: byParentLoader((ids) => crm.remoteDataByEntities(ids), (r) => r.entityId),
    },
  };
}
