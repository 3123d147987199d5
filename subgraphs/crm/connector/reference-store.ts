import { externalIdsOf } from '../../../lib/db/external-ids';
import type { Db, Queryable, Row } from '../../../lib/db/db';
import { iso, newId, str, strOrNull } from '../../../lib/db/rows';
import { Where, childPages, containsText, listSql } from '../../../lib/db/sql';
import type { CrmConnector } from './port';
import {
  type AccountModel, type Address, CLOSED_STAGES, type ExternalRefModel, type ContactModel, type LifecycleStage,
  type OpportunityFilter, type OpportunityModel, type OpportunityStage,
} from './models';

const ACCOUNT_COLS = 'id, remote_id, name, domain, industry, lifecycle_stage, billing_address, owner, custom_fields, created_at, updated_at';
const CONTACT_COLS = 'id, account_id, remote_id, first_name, last_name, email, phone, title, created_at, updated_at';
const OPP_COLS = 'id, account_id, remote_id, name, stage, amount_minor, currency, close_date, plan_code, created_at, updated_at';

function account(r: Row): AccountModel {
  return {
    id: str(r['id']), remoteId: str(r['remote_id']), name: str(r['name']), domain: strOrNull(r['domain']),
    industry: strOrNull(r['industry']), lifecycleStage: str(r['lifecycle_stage']) as LifecycleStage,
    billingAddress: (r['billing_address'] as Address | null) ?? null, owner: strOrNull(r['owner']),
    customFields: (r['custom_fields'] as Record<string, string | null> | null) ?? {},
    createdAt: iso(r['created_at']), updatedAt: iso(r['updated_at']),
  };
}

function contact(r: Row): ContactModel {
  return {
    id: str(r['id']), accountId: str(r['account_id']), remoteId: str(r['remote_id']), firstName: str(r['first_name']),
    lastName: str(r['last_name']), email: str(r['email']), phone: strOrNull(r['phone']), title: strOrNull(r['title']),
    createdAt: iso(r['created_at']), updatedAt: iso(r['updated_at']),
  };
}

function opportunity(r: Row): OpportunityModel {
  return {
    id: str(r['id']), accountId: str(r['account_id']), remoteId: str(r['remote_id']), name: str(r['name']),
    stage: str(r['stage']) as OpportunityStage, amount: { amountMinor: str(r['amount_minor']), currency: str(r['currency']) },
    closeDate: strOrNull(r['close_date']), planCode: strOrNull(r['plan_code']),
    createdAt: iso(r['created_at']), updatedAt: iso(r['updated_at']),
  };
}

function opportunityWhere(w: Where, filter: OpportunityFilter): void {
  if (filter.accountId) w.add((p) => `account_id = ${p}`, filter.accountId);
  if (filter.stages?.length) w.add((p) => `stage = ANY(${p}::text[])`, filter.stages);
  if (filter.open === true) w.add((p) => `NOT (stage = ANY(${p}::text[]))`, CLOSED_STAGES);
  if (filter.open === false) w.add((p) => `stage = ANY(${p}::text[])`, CLOSED_STAGES);
}

/** An UPDATE of one row of the tenant (`$1` tenant, `$2` id) setting `sets` and the update time. */
const updateSql = (table: string, sets: Where, cols: string) =>
  `UPDATE ${table} SET ${[...sets.clauses, 'updated_at = now()'].join(', ')} WHERE tenant_id = $1 AND id = $2 RETURNING ${cols}`;

/** Moves a contact or opportunity to an account of the same tenant only (the foreign key alone would accept another tenant's). */
const moveToAccount = (sets: Where, accountId: string) =>
  sets.add((p) => `account_id = (SELECT a.id FROM crm.accounts a WHERE a.tenant_id = $1 AND a.id = ${p})`, accountId);

/** Called inside the write's transaction: how account changes reach the sync outbox atomically. */
export interface CrmWriteHooks {
  accountChanged(tx: Queryable, account: AccountModel): Promise<void>;
}

/** The built-in CRM system of record: tables in the `crm` schema. Every statement is bound to one tenant. */
export function crmReferenceStore(db: Db, tenant: string, hooks?: CrmWriteHooks): CrmConnector {
  const q = (sql: string, params: unknown[], on: Queryable = db) => on.query(sql, params);
  const withAccountChange = <T extends AccountModel | null>(write: (tx: Queryable) => Promise<T>): Promise<T> =>
    db.transaction(async (tx) => {
      const changed = await write(tx);
      if (changed && hooks) await hooks.accountChanged(tx, changed);
      return changed;
    });
  return {
    async accountsByIds(ids) {
      return (await q(`SELECT ${ACCOUNT_COLS} FROM crm.accounts WHERE tenant_id = $1 AND id = ANY($2::text[])`, [tenant, ids])).map(account);
    },
    async listAccounts(filter, page) {
      const w = new Where([tenant]);
      if (filter.nameContains) containsText('name', w, filter.nameContains);
      if (filter.domain) w.add((p) => `domain = ${p}`, filter.domain);
      if (filter.industry) w.add((p) => `industry = ${p}`, filter.industry);
      if (filter.lifecycleStage) w.add((p) => `lifecycle_stage = ${p}`, filter.lifecycleStage);
      return (await q(listSql('crm.accounts', ACCOUNT_COLS, w, page), w.params)).map(account);
    },
    async contactsByIds(ids) {
      return (await q(`SELECT ${CONTACT_COLS} FROM crm.contacts WHERE tenant_id = $1 AND id = ANY($2::text[])`, [tenant, ids])).map(contact);
    },
    async listContacts(filter, page) {
      const w = new Where([tenant]);
      if (filter.accountId) w.add((p) => `account_id = ${p}`, filter.accountId);
      if (filter.emailContains) containsText('email', w, filter.emailContains);
      return (await q(listSql('crm.contacts', CONTACT_COLS, w, page), w.params)).map(contact);
    },
    async contactPagesByAccounts(accountIds, page) {
      const w = new Where([tenant, accountIds]);
      return (await q(childPages('crm.contacts', CONTACT_COLS, 'account_id', w, page), w.params)).map(contact);
    },
    async opportunitiesByIds(ids) {
      return (await q(`SELECT ${OPP_COLS} FROM crm.opportunities WHERE tenant_id = $1 AND id = ANY($2::text[])`, [tenant, ids])).map(opportunity);
    },
    async listOpportunities(filter, page) {
      const w = new Where([tenant]);
      opportunityWhere(w, filter);
      return (await q(listSql('crm.opportunities', OPP_COLS, w, page), w.params)).map(opportunity);
    },
    async opportunityPagesByAccounts(accountIds, filter, page) {
      const w = new Where([tenant, accountIds]);
      opportunityWhere(w, { ...filter, accountId: null });
      return (await q(childPages('crm.opportunities', OPP_COLS, 'account_id', w, page), w.params)).map(opportunity);
    },
    externalIdsByEntities: (ids) => externalIdsOf(db, 'crm', tenant, ids),
    async remoteDataByEntities(ids) {
      const rows = await q(`SELECT entity_id, system, remote_data FROM crm.external_ids WHERE tenant_id = $1 AND entity_id = ANY($2::text[]) AND remote_data IS NOT NULL`, [tenant, ids]);
      return rows.map((r) => ({ entityId: str(r['entity_id']), system: str(r['system']) as ExternalRefModel['system'], remoteData: r['remote_data'] as Record<string, unknown> }));
    },
    async recordExternalId(entityId, ref) {
      await q(
        `INSERT INTO crm.external_ids (tenant_id, entity_id, system, remote_id, remote_updated_at, remote_data) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (tenant_id, entity_id, system) DO UPDATE SET remote_id = EXCLUDED.remote_id, remote_updated_at = EXCLUDED.remote_updated_at,
           remote_data = coalesce(EXCLUDED.remote_data, crm.external_ids.remote_data)`,
        [tenant, entityId, ref.system, ref.remoteId, ref.remoteUpdatedAt, ref.remoteData ? JSON.stringify(ref.remoteData) : null],
      );
    },

    async createAccount(input, id) {
      return withAccountChange(async (tx) => account(first(await q(
        `INSERT INTO crm.accounts (id, tenant_id, remote_id, name, domain, industry, lifecycle_stage, billing_address, owner, custom_fields)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING ${ACCOUNT_COLS}`,
        [id ?? newId('acc'), tenant, remoteId('crm-acc'), input.name, input.domain, input.industry, input.lifecycleStage,
          input.billingAddress ? JSON.stringify(input.billingAddress) : null, input.owner, JSON.stringify(input.customFields ?? {})],
        tx,
      ))));
    },
    async updateAccount(id, changes) {
      const sets = new Where([tenant, id]);
      const set = (col: string, value: unknown) => sets.add((p) => `${col} = ${p}`, value);
      if (changes.name !== undefined) set('name', changes.name);
      if (changes.domain !== undefined) set('domain', changes.domain);
      if (changes.industry !== undefined) set('industry', changes.industry);
      if (changes.lifecycleStage !== undefined) set('lifecycle_stage', changes.lifecycleStage);
      if (changes.billingAddress !== undefined) set('billing_address', changes.billingAddress ? JSON.stringify(changes.billingAddress) : null);
      if (changes.owner !== undefined) set('owner', changes.owner);
      if (changes.customFields !== undefined) set('custom_fields', JSON.stringify(changes.customFields));
      return withAccountChange(async (tx) => {
        const rows = await q(
          `UPDATE crm.accounts SET ${[...sets.clauses, 'updated_at = now()'].join(', ')} WHERE tenant_id = $1 AND id = $2 RETURNING ${ACCOUNT_COLS}`,
          sets.params,
          tx,
        );
        return rows[0] ? account(rows[0]) : null;
      });
    },
    async createContact(input, id) {
      const rows = await q(
        `INSERT INTO crm.contacts (id, tenant_id, account_id, remote_id, first_name, last_name, email, phone, title)
         SELECT $1, $2, a.id, $4, $5, $6, $7, $8, $9 FROM crm.accounts a WHERE a.tenant_id = $2 AND a.id = $3
         RETURNING ${CONTACT_COLS}`,
        [id ?? newId('con'), tenant, input.accountId, remoteId('crm-con'), input.firstName, input.lastName, input.email, input.phone, input.title],
      );
      return contact(first(rows, () => new MissingParent('accountId', input.accountId)));
    },
    async updateContact(id, changes) {
      const sets = new Where([tenant, id]);
      const set = (col: string, value: unknown) => sets.add((p) => `${col} = ${p}`, value);
      if (changes.firstName !== undefined) set('first_name', changes.firstName);
      if (changes.lastName !== undefined) set('last_name', changes.lastName);
      if (changes.email !== undefined) set('email', changes.email);
      if (changes.phone !== undefined) set('phone', changes.phone);
      if (changes.title !== undefined) set('title', changes.title);
      if (changes.accountId !== undefined) moveToAccount(sets, changes.accountId);
      const rows = await q(updateSql('crm.contacts', sets, CONTACT_COLS), sets.params);
      return rows[0] ? contact(rows[0]) : null;
    },
    async createOpportunity(input, id) {
      const rows = await q(
        `INSERT INTO crm.opportunities (id, tenant_id, account_id, remote_id, name, stage, amount_minor, currency, close_date, plan_code)
         SELECT $1, $2, a.id, $4, $5, $6, $7, $8, $9, $10 FROM crm.accounts a WHERE a.tenant_id = $2 AND a.id = $3
         RETURNING ${OPP_COLS}`,
        [id ?? newId('opp'), tenant, input.accountId, remoteId('crm-opp'), input.name, input.stage, input.amount.amountMinor,
          input.amount.currency, input.closeDate, input.planCode],
      );
      return opportunity(first(rows, () => new MissingParent('accountId', input.accountId)));
    },
    async updateOpportunity(id, changes) {
      const sets = new Where([tenant, id]);
      const set = (col: string, value: unknown) => sets.add((p) => `${col} = ${p}`, value);
      if (changes.name !== undefined) set('name', changes.name);
      if (changes.stage !== undefined) set('stage', changes.stage);
      if (changes.amount !== undefined) {
        set('amount_minor', changes.amount.amountMinor);
        set('currency', changes.amount.currency);
      }
      if (changes.closeDate !== undefined) set('close_date', changes.closeDate);
      if (changes.accountId !== undefined) moveToAccount(sets, changes.accountId);
      const rows = await q(updateSql('crm.opportunities', sets, OPP_COLS), sets.params);
      return rows[0] ? opportunity(rows[0]) : null;
    },
    async setOpportunityStage(id, stage) {
      const rows = await q(
        `UPDATE crm.opportunities SET stage = $3, updated_at = now() WHERE tenant_id = $1 AND id = $2 RETURNING ${OPP_COLS}`,
        [tenant, id, stage],
      );
      return rows[0] ? opportunity(rows[0]) : null;
    },
  };
}

/** A write named a parent record that does not exist for this tenant. */
export class MissingParent extends Error {
  constructor(readonly field: string, readonly id: string) {
    super(`${field} "${id}" does not exist`);
  }
}

function first(rows: Row[], orElse: () => Error = () => new Error('statement returned no row')): Row {
  const row = rows[0];
  if (!row) throw orElse();
  return row;
}

function remoteId(prefix: string): string {
  return `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
}
