import type DataLoader from 'dataloader';
import type { Db } from '../../lib/db/db';
import { byIdLoader, byParentLoader, childPageLoader } from '../../lib/loaders';
import type { Page } from '../../lib/pagination';
import type { RequestBase } from '../runtime/server';
import type {
  ExternalRefModel, FinanceAccountModel, InvoiceFilter, InvoiceModel, JournalEntryModel, PaymentApplicationModel, PaymentModel,
} from './connector/models';
import type { ErpConnector } from './connector/port';
import { erpReferenceStore } from './connector/reference-store';
import { erpWriteHooks } from './hooks';

export interface ErpLoaders {
  account: DataLoader<string, FinanceAccountModel | null>;
  invoice: DataLoader<string, InvoiceModel | null>;
  payment: DataLoader<string, PaymentModel | null>;
  journalEntry: DataLoader<string, JournalEntryModel | null>;
  invoicePages: DataLoader<{ parentId: string; args: { page: Page; filter: InvoiceFilter } }, InvoiceModel[], string>;
  paymentPages: DataLoader<{ parentId: string; args: Page }, PaymentModel[], string>;
  applicationsByInvoice: DataLoader<string, PaymentApplicationModel[]>;
  applicationsByPayment: DataLoader<string, PaymentApplicationModel[]>;
  externalIds: DataLoader<string, (ExternalRefModel & { entityId: string })[]>;
}

export interface ErpContext extends RequestBase {
  erp: ErpConnector;
  loaders: ErpLoaders;
}

export function erpContext(base: RequestBase, db: Db): ErpContext {
  const erp = erpReferenceStore(db, base.tenant, erpWriteHooks(base.tenant, base.correlationId, { pushToRemote: true }));
  return {
    ...base,
    erp,
    loaders: {
      account: byIdLoader((ids) => erp.accountsByIds(ids)),
      invoice: byIdLoader((ids) => erp.invoicesByIds(ids)),
      payment: byIdLoader((ids) => erp.paymentsByIds(ids)),
      journalEntry: byIdLoader((ids) => erp.journalEntriesByIds(ids)),
      invoicePages: childPageLoader(
        (args: { page: Page; filter: InvoiceFilter }, ids) => erp.invoicePagesByAccounts(ids, args.filter, args.page),
        (i) => i.accountId,
      ),
      paymentPages: childPageLoader((page: Page, ids) => erp.paymentPagesByAccounts(ids, page), (p) => p.accountId),
      applicationsByInvoice: byParentLoader((ids) => erp.applicationsByInvoices(ids), (a) => a.invoiceId),
      applicationsByPayment: byParentLoader((ids) => erp.applicationsByPayments(ids), (a) => a.paymentId),
      externalIds: byParentLoader((ids) => erp.externalIdsByEntities(ids), (r) => r.entityId),
    },
  };
}
