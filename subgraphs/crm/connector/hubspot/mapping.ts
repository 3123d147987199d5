import { PermanentError } from '../../../../lib/connectors/errors';
import { decimalToMoney, moneyToDecimal } from '../../../../lib/connectors/decimal-money';
import type { LifecycleStage } from '../models';
import type { CrmFields, CrmKind } from '../remote-port';
import { stageForWrite, type HubSpotSettings } from './settings';

export type Properties = Record<string, string | null>;

/** How one of our kinds lives in HubSpot: its object type, the properties we read, and both directions of mapping. */
export interface KindSpec<K extends CrmKind> {
  objectType: 'companies' | 'contacts' | 'deals';
  /** HubSpot's last-modified property for this object (contacts still use the older name). */
  modifiedProperty: string;
  properties: readonly string[];
  /** The company association the kind carries, if any. */
  associatesCompany: boolean;
  read(p: Properties, companyId: string | null, settings: HubSpotSettings): CrmFields[K];
  write(fields: Partial<CrmFields[K]>, settings: HubSpotSettings): Properties;
}

const LIFECYCLE_IN: Record<string, LifecycleStage> = {
  subscriber: 'LEAD', lead: 'LEAD', marketingqualifiedlead: 'LEAD', salesqualifiedlead: 'PROSPECT', opportunity: 'PROSPECT',
  customer: 'CUSTOMER', evangelist: 'CUSTOMER', other: 'CHURNED',
};
const LIFECYCLE_OUT: Record<LifecycleStage, string> = { LEAD: 'lead', PROSPECT: 'opportunity', CUSTOMER: 'customer', CHURNED: 'other' };

/** HubSpot clears a property with "", and answers null or "" for an empty one: both are null to us. */
const text = (v: string | null | undefined): string | null => (v === undefined || v === null || v === '' ? null : v);
const clear = (v: string | null | undefined): string | null => v ?? '';

/** Keeps only the properties whose field was given, so a partial write leaves the others alone. */
function defined(p: Record<string, string | null | undefined>): Properties {
  return Object.fromEntries(Object.entries(p).filter((e): e is [string, string | null] => e[1] !== undefined));
}

export const KIND_SPECS: { [K in CrmKind]: KindSpec<K> } = {
  account: {
    objectType: 'companies',
    modifiedProperty: 'hs_lastmodifieddate',
    properties: ['name', 'domain', 'industry', 'lifecyclestage', 'hubspot_owner_id'],
    associatesCompany: false,
    read: (p, _company, settings) => ({
      name: p['name'] ?? '',
      domain: text(p['domain']),
      industry: text(p['industry']),
      lifecycleStage: LIFECYCLE_IN[p['lifecyclestage'] ?? ''] ?? null,
      ownerRemoteId: text(p['hubspot_owner_id']),
      custom: Object.fromEntries(settings.fieldMappings.account.customFields.map((m) => [m.field, text(p[m.property])])),
    }),
    write: (f, settings) => defined({
      // Mapped custom fields only; a field the mappings do not know is not written anywhere.
      ...Object.fromEntries(settings.fieldMappings.account.customFields.filter((m) => f.custom && m.field in f.custom).map((m) => [m.property, clear(f.custom?.[m.field])])),
      name: f.name,
      domain: f.domain === undefined ? undefined : clear(f.domain),
      industry: f.industry === undefined ? undefined : clear(f.industry),
      lifecyclestage: f.lifecycleStage ? LIFECYCLE_OUT[f.lifecycleStage] : undefined,
      hubspot_owner_id: f.ownerRemoteId === undefined ? undefined : clear(f.ownerRemoteId),
    }),
  },
  contact: {
    objectType: 'contacts',
    modifiedProperty: 'lastmodifieddate',
    properties: ['firstname', 'lastname', 'email', 'phone', 'jobtitle'],
    associatesCompany: true,
    read: (p, companyId) => ({
      firstName: p['firstname'] ?? '',
      lastName: p['lastname'] ?? '',
      email: p['email'] ?? '',
      phone: text(p['phone']),
      title: text(p['jobtitle']),
      accountRemoteId: companyId,
    }),
    write: (f) => defined({
      firstname: f.firstName,
      lastname: f.lastName,
      email: f.email,
      phone: f.phone === undefined ? undefined : clear(f.phone),
      jobtitle: f.title === undefined ? undefined : clear(f.title),
    }),
  },
  opportunity: {
    objectType: 'deals',
    modifiedProperty: 'hs_lastmodifieddate',
    properties: ['dealname', 'dealstage', 'pipeline', 'amount', 'deal_currency_code', 'closedate'],
    associatesCompany: true,
    read: (p, companyId, settings) => {
      const amount = text(p['amount']);
      // A deal without a currency is in the portal's company currency (a setting of the connection); a deal without
      // an amount is worth zero (HubSpot's reports count it so).
      const currency = text(p['deal_currency_code']) ?? settings.companyCurrency;
      return {
        name: p['dealname'] ?? '',
        stage: settings.dealStages[p['dealstage'] ?? ''] ?? null,
        amount: decimalToMoney(amount ?? '0', currency),
        closeDate: text(p['closedate'])?.slice(0, 10) ?? null,
        accountRemoteId: companyId,
      };
    },
    write: (f, settings) => defined({
      dealname: f.name,
      pipeline: f.stage ? settings.pipeline : undefined,
      dealstage: f.stage ? hubSpotStage(settings, f.stage) : undefined,
      amount: f.amount === undefined ? undefined : f.amount ? moneyToDecimal(f.amount) : '',
      deal_currency_code: f.amount ? f.amount.currency : undefined,
      // HubSpot date-times take a date at midnight UTC.
      closedate: f.closeDate === undefined ? undefined : f.closeDate ? `${f.closeDate}T00:00:00.000Z` : '',
    }),
  },
};

function hubSpotStage(settings: HubSpotSettings, ours: NonNullable<CrmFields['opportunity']['stage']>): string {
  const stage = stageForWrite(settings, ours);
  if (!stage) throw new PermanentError('STAGE_NOT_MAPPED', `no HubSpot deal stage is mapped to ${ours} in this connection's settings`);
  return stage;
}
