import { createHash } from 'node:crypto';
import type { Db } from '../../../lib/db/db';
import type { JsonObject, RemoteRecord } from '../../../lib/connectors/remote';
import { enqueueSyncJob, type SystemName } from '../../../lib/outbox';
import { accountSyncHooks } from '../../crm/account-sync';
import type { AccountChanges, AccountModel, ContactChanges, ContactModel, OpportunityChanges, OpportunityModel } from '../../crm/connector/models';
import type { CrmConnector } from '../../crm/connector/port';
import { crmReferenceStore } from '../../crm/connector/reference-store';
import type {
  CrmFields, CrmKind, CrmRemote, RemoteAccountFields, RemoteContactFields, RemoteOpportunityFields,
} from '../../crm/connector/remote-port';
import type { ConnectionModel } from '../connections/models';
import { recordLink } from '../engine/links';
import type { OwnedAccountField } from './account-fields';
import { type RemoteEntity, type RemoteLinks, alreadyApplied, remoteLinks } from './links';
import { type OwnedElsewhere, ownedElsewhere } from './owned-elsewhere';

const once = <T>(f: () => Promise<T>): (() => Promise<T>) => {
  let p: Promise<T> | null = null;
  return () => (p ??= f());
};

const ENTITY: Record<CrmKind, RemoteEntity> = { account: 'Account', contact: 'Contact', opportunity: 'Opportunity' };
const PREFIX: Record<CrmKind, string> = { account: 'acc', contact: 'con', opportunity: 'opp' };

/** The canonical id of an account born in the vendor CRM: derived from its vendor id, so a retried job finds it. */
export function canonicalAccountId(connectionId: string, remoteId: string): string {
  return `acc_${createHash('sha256').update(`${connectionId}|${remoteId}`).digest('hex').slice(0, 32)}`;
}

/** The same for any kind (accounts keep the formula they were born with). */
function canonicalIdOf(kind: CrmKind, connectionId: string, remoteId: string): string {
  if (kind === 'account') return canonicalAccountId(connectionId, remoteId);
  return `${PREFIX[kind]}_${createHash('sha256').update(`${kind}|${connectionId}|${remoteId}`).digest('hex').slice(0, 32)}`;
}

const sorted = (o: Record<string, string | null>) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));

/** A field the vendor CRM holds differently from ours where another connection owns it: not applied, reported. */
interface Drift { field: OwnedAccountField; value: string | null; current: string | null; owner: SystemName }

/**
 * The CRM-owned fields the vendor holds that differ from ours (only fields the vendor has a value for). A field the
 * tenant's ERP or billing connection owns (`owned`, from their mappings) is drift instead; the custom fields the vendor
 * maps replace the account's own, except the keys those connections' mappings fill.
 */
function accountChanges(ours: AccountModel, theirs: RemoteAccountFields, owned: OwnedElsewhere): { changes: AccountChanges; drifted: Drift[] } {
  const changes: AccountChanges = {};
  const drifted: Drift[] = [];
  const offer = (field: OwnedAccountField, value: string | null) => {
    if (value === ours[field]) return;
    const owner = owned.fields.get(field);
    if (owner) drifted.push({ field, value, current: ours[field], owner });
    else if (field === 'name') changes.name = value ?? ours.name;
    else changes[field] = value;
  };
  if (theirs.name) offer('name', theirs.name);
  offer('domain', theirs.domain);
  offer('industry', theirs.industry);
  if (theirs.lifecycleStage && theirs.lifecycleStage !== ours.lifecycleStage) changes.lifecycleStage = theirs.lifecycleStage;
  // The mapped fields replace the account's custom fields as a whole: a field no longer mapped goes away.
  if (theirs.custom) {
    // Keys an ERP or billing mapping fills are that system's, whatever the vendor CRM holds under the same name.
    const kept = Object.entries(ours.customFields).filter(([k]) => owned.customKeys.has(k));
    const custom = { ...Object.fromEntries(Object.entries(theirs.custom).filter(([k]) => !owned.customKeys.has(k))), ...Object.fromEntries(kept) };
    if (JSON.stringify(sorted(custom)) !== JSON.stringify(sorted(ours.customFields))) changes.customFields = custom;
  }
  return { changes, drifted };
}

function contactChanges(ours: ContactModel, theirs: RemoteContactFields, accountId: string | null): ContactChanges {
  const changes: ContactChanges = {};
  if (theirs.firstName !== ours.firstName) changes.firstName = theirs.firstName;
  if (theirs.lastName !== ours.lastName) changes.lastName = theirs.lastName;
  if (theirs.email !== ours.email) changes.email = theirs.email;
  if (theirs.phone !== ours.phone) changes.phone = theirs.phone;
  if (theirs.title !== ours.title) changes.title = theirs.title;
  if (accountId && accountId !== ours.accountId) changes.accountId = accountId;
  return changes;
}

function opportunityChanges(ours: OpportunityModel, theirs: RemoteOpportunityFields, accountId: string | null): OpportunityChanges {
  const changes: OpportunityChanges = {};
  if (theirs.name && theirs.name !== ours.name) changes.name = theirs.name;
  // A stage the connection's dealStages do not map leaves ours as it is.
  if (theirs.stage && theirs.stage !== ours.stage) changes.stage = theirs.stage;
  if (theirs.amount && (theirs.amount.amountMinor !== ours.amount.amountMinor || theirs.amount.currency !== ours.amount.currency)) changes.amount = theirs.amount;
  if (theirs.closeDate !== ours.closeDate) changes.closeDate = theirs.closeDate;
  if (accountId && accountId !== ours.accountId) changes.accountId = accountId;
  return changes;
}

const described = (changes: object) => (Object.keys(changes).length ? `updated (${Object.keys(changes).join(', ')})` : 'unchanged');

/** What one inbound batch works with: the tenant's mirror (writes from the vendor push to ERP/billing, never back). */
interface Inbound {
  db: Db;
  tenant: string;
  correlationId: string;
  connection: ConnectionModel;
  remote: CrmRemote;
  links: RemoteLinks;
  mirror: CrmConnector;
  /** What the tenant's ERP and billing connections own of an account (read once per batch, when an account needs it). */
  owned: () => Promise<OwnedElsewhere>;
}

/** The outcome of applying one record: mirrored under `id`, or not mirrored (and not linked) with the reason. */
type Applied = { mirrored: true; id: string; outcome: string } | { mirrored: false; outcome: string };

/**
 * A record changed in the tenant's vendor CRM (HubSpot is its system of record for accounts, contacts and deals): it
 * is re-read by id (events carry no content we trust, and come in any order) and applied to the mirror when it is
 * newer than the version the ledger holds, so a stale or repeated event changes nothing.
 */
export async function applyCrmChange(
  db: Db, tenant: string, correlationId: string, connection: ConnectionModel, remote: CrmRemote, kind: CrmKind, remoteId: string, force = false,
): Promise<string> {
  const records = await remote.get(kind, [remoteId]);
  if (records.length === 0) return `${kind} ${remoteId} no longer exists at ${remote.vendor}`;
  return (await applyCrmRecords(db, tenant, correlationId, connection, remote, kind, records, force)).join('; ');
}

/**
 * Applies vendor records of one kind (a webhook's re-read, or an initial-sync page). Records born at the vendor get a
 * canonical id derived from (connection, kind, vendor id), so a retry after a crash finds what the first attempt
 * made; that id is then written back to the vendor (its unique property, one batch for the lot) so our later upserts
 * update the record instead of creating another. A contact or deal belongs to the account of its company: a company
 * not linked yet is read and applied first, whatever order the events came in.
 *
 * `force`: apply even a version the ledger holds (a resync after the connection's field mappings changed).
 */
export async function applyCrmRecords<K extends CrmKind>(
  db: Db, tenant: string, correlationId: string, connection: ConnectionModel, remote: CrmRemote, kind: K, records: readonly RemoteRecord<CrmFields[K]>[], force = false,
): Promise<string[]> {
  const ctx: Inbound = {
    db, tenant, correlationId, connection, remote, links: remoteLinks(db, tenant, connection.id),
    mirror: crmReferenceStore(db, tenant, accountSyncHooks(tenant, correlationId, { fromVendor: true })),
    owned: once(() => ownedElsewhere(db, tenant)),
  };
  const outcomes: string[] = [];
  const toLink: { record: RemoteRecord<CrmFields[K]>; id: string }[] = [];
  for (const record of records) {
    const known = await ctx.links.byRemoteId(ENTITY[kind], record.remoteId);
    if (!force && alreadyApplied(record, known)) {
      outcomes.push(`${kind} ${record.remoteId}: version ${record.remoteUpdatedAt} already applied`);
      continue;
    }
    const id = record.canonicalId ?? known?.canonicalId ?? canonicalIdOf(kind, connection.id, record.remoteId);
    const applied = await applyOne(ctx, kind, record, id);
    outcomes.push(applied.outcome);
    if (applied.mirrored) toLink.push({ record, id });
  }
  // The vendor keeps our ids from now on; claiming changes their modification times, so the claimed versions are linked.
  const unclaimed = toLink.filter((l) => l.record.canonicalId !== l.id);
  const claimed = unclaimed.length ? await remote.claim(kind, unclaimed.map((l) => ({ remoteId: l.record.remoteId, canonicalId: l.id }))) : [];
  const latest = new Map(claimed.map((r) => [r.remoteId, r]));
  for (const { record: read, id } of toLink) {
    const record = latest.get(read.remoteId) ?? read;
    await ctx.links.record(ENTITY[kind], id, record.remoteId, record.remoteUpdatedAt, record.remoteData as JsonObject);
    const ref = { remoteId: record.remoteId, updatedAt: record.remoteUpdatedAt, remoteData: record.remoteData };
    if (kind === 'account') await recordLink(db, ctx.mirror, tenant, id, 'CRM', ref);
    else await ctx.mirror.recordExternalId(id, { system: 'CRM', remoteId: ref.remoteId, remoteUpdatedAt: ref.updatedAt, remoteData: ref.remoteData });
  }
  return outcomes;
}

function applyOne<K extends CrmKind>(ctx: Inbound, kind: K, record: RemoteRecord<CrmFields[K]>, id: string): Promise<Applied> {
  // The casts only restate what `kind` already says about `record.fields`.
  switch (kind) {
    case 'account': return applyAccount(ctx, record as RemoteRecord<RemoteAccountFields>, id);
    case 'contact': return applyContact(ctx, record as RemoteRecord<RemoteContactFields>, id);
    case 'opportunity': return applyOpportunity(ctx, record as RemoteRecord<RemoteOpportunityFields>, id);
    default: throw new Error(`unknown CRM kind ${String(kind)}`);
  }
}

async function applyAccount(ctx: Inbound, record: RemoteRecord<RemoteAccountFields>, id: string): Promise<Applied> {
  const [ours] = await ctx.mirror.accountsByIds([id]);
  const f = record.fields;
  if (!ours) {
    await ctx.mirror.createAccount({
      name: f.name || record.remoteId, domain: f.domain, industry: f.industry, lifecycleStage: f.lifecycleStage ?? 'LEAD', billingAddress: null, owner: null, customFields: f.custom ?? {},
    }, id);
    return { mirrored: true, id, outcome: `account ${id} created from ${ctx.remote.vendor} ${record.remoteId}` };
  }
  const { changes, drifted } = accountChanges(ours, f, await ctx.owned());
  if (Object.keys(changes).length > 0) await ctx.mirror.updateAccount(id, changes);
  const drift = drifted.map((d) => `; drift: ${d.field} "${d.value ?? ''}" at ${ctx.remote.vendor}, "${d.current ?? ''}" ours (the ${d.owner} owns it)`);
  if (drifted.length > 0) await repairAtVendor(ctx, id, record);
  return { mirrored: true, id, outcome: `account ${id} ${described(changes)} from ${ctx.remote.vendor} ${record.remoteId}${drift.join('')}${drifted.length ? '; repair queued' : ''}` };
}

/**
 * The vendor holds a value another connection owns: our account is pushed back to it (an upsert into the CRM, once per
 * vendor version), and the CRM link shows DRIFTED until that push lands.
 */
async function repairAtVendor(ctx: Inbound, id: string, record: RemoteRecord<RemoteAccountFields>): Promise<void> {
  await ctx.db.transaction(async (tx) => {
    await enqueueSyncJob(tx, {
      tenant: ctx.tenant, kind: 'ACCOUNT_UPSERT', entityType: 'Account', entityId: id, sourceSystem: 'CRM', targetSystem: 'CRM',
      correlationId: ctx.correlationId, idempotencyKey: `drift:${ctx.connection.id}:${record.remoteId}:${record.remoteUpdatedAt}`,
    });
    await tx.query(`UPDATE sync.links SET state = 'DRIFTED', updated_at = now() WHERE tenant_id = $1 AND entity_type = 'Account' AND entity_id = $2 AND system = 'CRM'`, [ctx.tenant, id]);
  });
}

/** Our account for a vendor company: its link, or the company read and applied now (its own event may come later). */
async function accountOf(ctx: Inbound, companyRemoteId: string | null): Promise<string | null> {
  if (!companyRemoteId) return null;
  const linked = await ctx.links.byRemoteId('Account', companyRemoteId);
  if (linked) return linked.canonicalId;
  const companies = await ctx.remote.get('account', [companyRemoteId]);
  if (companies.length === 0) return null;
  await applyCrmRecords(ctx.db, ctx.tenant, ctx.correlationId, ctx.connection, ctx.remote, 'account', companies);
  return (await ctx.links.byRemoteId('Account', companyRemoteId))?.canonicalId ?? null;
}

async function applyContact(ctx: Inbound, record: RemoteRecord<RemoteContactFields>, id: string): Promise<Applied> {
  const f = record.fields;
  const [ours] = await ctx.mirror.contactsByIds([id]);
  const accountId = await accountOf(ctx, f.accountRemoteId);
  const source = `from ${ctx.remote.vendor} ${record.remoteId}`;
  if (!ours) {
    // Every contact of ours belongs to an account; one without a company waits for its association (an event of its own).
    if (!accountId) return { mirrored: false, outcome: `contact ${record.remoteId} has no company at ${ctx.remote.vendor}: not mirrored until it has one` };
    await ctx.mirror.createContact({ accountId, firstName: f.firstName, lastName: f.lastName, email: f.email, phone: f.phone, title: f.title }, id);
    return { mirrored: true, id, outcome: `contact ${id} created ${source} under account ${accountId}` };
  }
  // A company association removed at the vendor leaves the contact with its last account.
  const changes = contactChanges(ours, f, accountId);
  if (Object.keys(changes).length > 0) await ctx.mirror.updateContact(id, changes);
  return { mirrored: true, id, outcome: `contact ${id} ${described(changes)} ${source}` };
}

async function applyOpportunity(ctx: Inbound, record: RemoteRecord<RemoteOpportunityFields>, id: string): Promise<Applied> {
  const f = record.fields;
  const [ours] = await ctx.mirror.opportunitiesByIds([id]);
  const accountId = await accountOf(ctx, f.accountRemoteId);
  const source = `from ${ctx.remote.vendor} ${record.remoteId}`;
  if (!ours) {
    if (!accountId) return { mirrored: false, outcome: `deal ${record.remoteId} has no company at ${ctx.remote.vendor}: not mirrored until it has one` };
    const stage = f.stage;
    if (!stage) return { mirrored: false, outcome: `deal ${record.remoteId} is in a stage the connection's dealStages do not map: not mirrored` };
    if (!f.amount) return { mirrored: false, outcome: `deal ${record.remoteId} has no amount in a known currency: not mirrored` };
    await ctx.mirror.createOpportunity({ accountId, name: f.name || record.remoteId, stage, amount: f.amount, closeDate: f.closeDate, planCode: null }, id);
    return { mirrored: true, id, outcome: `opportunity ${id} created ${source} (${stage}) under account ${accountId}` };
  }
  const changes = opportunityChanges(ours, f, accountId);
  if (Object.keys(changes).length > 0) await ctx.mirror.updateOpportunity(id, changes);
  return { mirrored: true, id, outcome: `opportunity ${id} ${described(changes)} ${source}` };
}
