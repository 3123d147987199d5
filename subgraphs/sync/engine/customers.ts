import type { Db } from '../../../lib/db/db';
import type { FinanceAccountModel } from '../../erp/connector/models';
import { PermanentError } from './errors';
import { recordLink } from './links';
import { type Systems, currencyForCountry } from './systems';

/**
 * The ERP customer for an account, created from the CRM account first when sync has not got to it yet (the same
 * idempotent upsert as account master sync), so document flows never wait on master data.
 */
export async function ensureErpCustomer(db: Db, sys: Systems, tenant: string, accountId: string): Promise<FinanceAccountModel> {
  const [existing] = await sys.erp.accountsByIds([accountId]);
  if (existing) return existing;
  const [account] = await sys.crm.accountsByIds([accountId]);
  if (!account) throw new PermanentError('SOURCE_NOT_FOUND', `CRM account "${accountId}" does not exist`);
  const ref = await sys.erp.upsertCustomer({ id: account.id, name: account.name, currency: currencyForCountry(account.billingAddress?.country) });
  await recordLink(db, sys.crm, tenant, account.id, 'ERP', ref);
  const [created] = await sys.erp.accountsByIds([accountId]);
  if (!created) throw new PermanentError('CUSTOMER_NOT_CREATED', `No ERP customer for account "${accountId}"`);
  return created;
}
