import { Client } from '@hubspot/api-client';
import { FilterOperatorEnum, type SimplePublicObject } from '@hubspot/api-client/lib/codegen/crm/objects';
import { AuthError, PermanentError } from '../../../../lib/connectors/errors';
import type { Outbound } from '../../../../lib/connectors/outbound';
import type { ChangePage, InboundWebhook, JsonObject, RemoteRecord } from '../../../../lib/connectors/remote';
import type { CrmFields, CrmKind, CrmOwner, CrmRemote, CrmUpsert } from '../remote-port';
import { mapHubSpotError } from './errors';
import { memoryTokenStore, type OAuthTokenStore } from '../../../../lib/connectors/oauth-tokens';
import { HubSpotTokenSource } from './oauth';
import { KIND_SPECS, type KindSpec } from './mapping';
import { type HubSpotCredentials, type HubSpotSettings, hubSpotSettings } from './settings';
import { verifyHubSpotWebhook } from './webhooks';

/** HubSpot's batch endpoints take at most 100 inputs. */
const BATCH = 100;
/** The search API pages 200 at most and stops at 10,000 results per query. */
const SEARCH_PAGE_MAX = 200;
const SEARCH_RESULT_MAX = 10_000;

/** Where an incremental read stands: records modified at or after `since`; `after` only within one instant. */
interface Cursor {
  since: number;
  after?: string;
}

export interface HubSpotRemoteOptions {
  credentials: HubSpotCredentials;
  /** Validated here too (defaults filled), so a connection stored before a default changed still works. */
  settings?: Partial<HubSpotSettings>;
  outbound: Outbound;
  /**
   * OAuth only: where the install's tokens live between calls and processes (the connection's sealed credentials).
   * Without it they are kept in this adapter, and a rotated refresh token is handed to `onRefreshTokenRotated`.
   */
  tokenStore?: OAuthTokenStore;
  onRefreshTokenRotated?: (refreshToken: string) => Promise<void>;
}

/**
 * The HubSpot CRM behind the `CrmRemote` port, on the official @hubspot/api-client: companies, contacts and deals
 * keyed by our canonical id in a unique custom property (batch upsert by `idProperty`, so a retried write updates
 * what the first one made), company associations through the v4 default associations, incremental reads through
 * the search API sorted by last-modified. The SDK's own retries are off: retries belong to the sync engine, and
 * every call goes through the connection's `Outbound` (timeout, breaker, rate limit).
 */
export class HubSpotCrmRemote implements CrmRemote {
  readonly vendor = 'hubspot';
  readonly webhooks?: CrmRemote['webhooks'];
  private readonly client: Client;
  private readonly settings: HubSpotSettings;
  private readonly outbound: Outbound;
  private readonly tokens: HubSpotTokenSource | null = null;

  constructor(options: HubSpotRemoteOptions) {
    this.settings = hubSpotSettings.parse(options.settings ?? {});
    this.outbound = options.outbound;
    const { apiKey, webhookSecret } = options.credentials;
    this.client = new Client({ basePath: this.settings.basePath, numberOfApiCallRetries: 0, ...(this.settings.auth === 'private-app' ? { accessToken: apiKey } : {}) });
    if (this.settings.auth === 'oauth') {
      const clientId = this.settings.oauthClientId;
      if (!clientId || !webhookSecret) throw new PermanentError('HUBSPOT_OAUTH_INCOMPLETE', 'an OAuth connection needs settings.oauthClientId and the client secret as webhookSecret');
      const store = options.tokenStore ?? memoryTokenStore(apiKey, options.onRefreshTokenRotated);
      this.tokens = new HubSpotTokenSource(store, (refreshToken) => this.send('oauth.refresh', () =>
        this.client.oauth.tokensApi.create('refresh_token', undefined, undefined, clientId, webhookSecret, refreshToken)));
    }
    const secret = webhookSecret;
    if (secret) this.webhooks = { verify: (request: InboundWebhook) => verifyHubSpotWebhook(request, secret) };
  }

  async checkAccess(): Promise<{ accountId: string }> {
    const details = await this.call('account-info.details', async () => {
      // The SDK has no generated client for account-info; its raw request keeps auth and base path.
      const res = await this.client.apiRequest({ method: 'GET', path: '/account-info/v3/details' });
      if (!res.ok) throw { code: res.status, headers: Object.fromEntries(res.headers.entries()), body: await res.text() };
      return (await res.json()) as { portalId?: number };
    });
    return { accountId: String(details.portalId ?? '') };
  }

  async upsert<K extends CrmKind>(kind: K, writes: readonly CrmUpsert<K>[]): Promise<RemoteRecord<CrmFields[K]>[]> {
    const spec: KindSpec<K> = KIND_SPECS[kind];
    const idProperty = this.settings.canonicalIdProperty;
    const remoteIds = new Map<string, string>();
    for (const chunk of chunks(writes, BATCH)) {
      const inputs = chunk.map((w) => ({ idProperty, id: w.canonicalId, properties: nonNull({ ...spec.write(w.fields, this.settings), ...w.custom }) }));
      const answer = await this.call(`${spec.objectType}.batch.upsert`, () => this.client.crm.objects.batchApi.upsert(spec.objectType, { inputs }));
      for (const result of answer.results) remoteIds.set(result.properties[idProperty] ?? '', result.id);
      if (answer.results.length !== chunk.length) throw new PermanentError('HUBSPOT_PARTIAL_BATCH', `${spec.objectType}: ${chunk.length - answer.results.length} of ${chunk.length} upserts failed`);
    }
    if (spec.associatesCompany) await this.associateCompanies(spec, writes, remoteIds);
    return this.get(kind, writes.map((w) => remoteIds.get(w.canonicalId)).filter((id): id is string => id !== undefined));
  }

  async claim<K extends CrmKind>(kind: K, claims: readonly { remoteId: string; canonicalId: string }[]): Promise<RemoteRecord<CrmFields[K]>[]> {
    const spec: KindSpec<K> = KIND_SPECS[kind];
    const property = this.settings.canonicalIdProperty;
    // The property is unique in HubSpot: a canonical id another record holds is refused there (a PermanentError).
    // One batch update per 100 records (an initial sync claims whole pages), then one batch read for the new versions.
    for (const chunk of chunks(claims, BATCH)) {
      await this.call(`${spec.objectType}.batch.update`, () => this.client.crm.objects.batchApi.update(spec.objectType, {
        inputs: chunk.map((c) => ({ id: c.remoteId, properties: { [property]: c.canonicalId } })),
      }));
    }
    return this.get(kind, claims.map((c) => c.remoteId));
  }

  async get<K extends CrmKind>(kind: K, remoteIds: readonly string[]): Promise<RemoteRecord<CrmFields[K]>[]> {
    const spec: KindSpec<K> = KIND_SPECS[kind];
    const found: SimplePublicObject[] = [];
    for (const chunk of chunks(remoteIds, BATCH)) {
      const answer = await this.call(`${spec.objectType}.batch.read`, () => this.client.crm.objects.batchApi.read(spec.objectType, {
        inputs: chunk.map((id) => ({ id })), properties: this.propertiesOf(spec), propertiesWithHistory: [],
      }));
      // A 207 lists the ids HubSpot does not have; they are simply absent from the answer.
      found.push(...answer.results);
    }
    return this.toRecords(spec, found);
  }

  async changes<K extends CrmKind>(kind: K, cursor: string | null, limit: number): Promise<ChangePage<CrmFields[K]>> {
    const spec: KindSpec<K> = KIND_SPECS[kind];
    const at: Cursor = cursor ? (JSON.parse(cursor) as Cursor) : { since: 0 };
    const pageSize = Math.min(Math.max(1, limit), SEARCH_PAGE_MAX);
    const answer = await this.call(`${spec.objectType}.search`, () => this.client.crm.objects.searchApi.doSearch(spec.objectType, {
      filterGroups: [{ filters: [{ propertyName: spec.modifiedProperty, operator: FilterOperatorEnum.Gte, value: String(at.since) }] }],
      // HubSpot documents sorts as {propertyName, direction} objects; the SDK's generated type says string[] and
      // its serializer passes elements through unchanged, hence the cast.
      sorts: [{ propertyName: spec.modifiedProperty, direction: 'ASCENDING' }] as unknown as string[],
      properties: this.propertiesOf(spec),
      limit: pageSize,
      ...(at.after ? { after: at.after } : {}),
    }));
    const records = await this.toRecords(spec, answer.results);
    const last = records.at(-1);
    const lastModified = last ? Date.parse(last.remoteUpdatedAt) : at.since;
    const nextAfter = answer.paging?.next?.after;
    let next: Cursor;
    // Keyset on the modification time, not offsets: a record edited while we page moves to the end of the order,
    // and an offset would then skip the one that slid into its place. Records sharing the last instant are read
    // again on the next page, which changes nothing.
    if (nextAfter && lastModified > at.since) next = { since: lastModified };
    // A whole page sharing one instant (a bulk import): page through that instant by offset, or we would stall.
    else if (nextAfter && Number(nextAfter) + pageSize <= SEARCH_RESULT_MAX) next = { since: at.since, after: nextAfter };
    else if (nextAfter) throw new PermanentError('HUBSPOT_CURSOR_STALLED', `more than ${SEARCH_RESULT_MAX} ${spec.objectType} share one modification time`);
    // Caught up: step back by the overlap window, so records indexed late or stamped by a skewed clock are not missed.
    else next = { since: Math.max(at.since, lastModified - this.settings.overlapMs) };
    return { records, cursor: JSON.stringify(next), hasMore: nextAfter !== undefined };
  }

  async owners(): Promise<CrmOwner[]> {
    const owners: CrmOwner[] = [];
    let after: string | undefined;
    do {
      const page = await this.call('owners.list', () => this.client.crm.owners.ownersApi.getPage(undefined, after, 500, false));
      owners.push(...page.results.map((o) => ({
        remoteId: o.id, email: o.email ?? null, name: [o.firstName, o.lastName].filter(Boolean).join(' ') || (o.email ?? o.id),
      })));
      after = page.paging?.next?.after;
    } while (after);
    return owners;
  }

  private async associateCompanies<K extends CrmKind>(spec: KindSpec<K>, writes: readonly CrmUpsert<K>[], remoteIds: Map<string, string>): Promise<void> {
    const pairs = writes.flatMap((w) => {
      const company = (w.fields as Partial<{ accountRemoteId: string | null }>).accountRemoteId;
      const id = remoteIds.get(w.canonicalId);
      return company && id ? [{ _from: { id }, to: { id: company } }] : [];
    });
    for (const chunk of chunks(pairs, BATCH)) {
      await this.call(`${spec.objectType}.associations.default`, () => this.client.crm.associations.v4.batchApi.createDefault(spec.objectType, 'companies', { inputs: chunk }));
    }
  }

  private async companiesOf<K extends CrmKind>(spec: KindSpec<K>, ids: readonly string[]): Promise<Map<string, string>> {
    const companies = new Map<string, string>();
    if (!spec.associatesCompany) return companies;
    for (const chunk of chunks(ids, BATCH)) {
      const answer = await this.call(`${spec.objectType}.associations.read`, () => this.client.crm.associations.v4.batchApi.getPage(spec.objectType, 'companies', { inputs: chunk.map((id) => ({ id })) }));
      for (const r of answer.results) {
        const first = r.to[0];
        if (first) companies.set(r._from.id, String(first.toObjectId));
      }
    }
    return companies;
  }

  private async toRecords<K extends CrmKind>(spec: KindSpec<K>, objects: readonly SimplePublicObject[]): Promise<RemoteRecord<CrmFields[K]>[]> {
    const companies = await this.companiesOf(spec, objects.map((o) => o.id));
    return objects.map((o) => ({
      remoteId: o.id,
      canonicalId: o.properties[this.settings.canonicalIdProperty] || null,
      remoteUpdatedAt: new Date(o.properties[spec.modifiedProperty] ?? o.updatedAt).toISOString(),
      fields: spec.read(o.properties, companies.get(o.id) ?? null, this.settings),
      remoteData: rawRecord(o, spec.associatesCompany ? companies.get(o.id) ?? null : undefined),
    }));
  }

  private propertiesOf<K extends CrmKind>(spec: KindSpec<K>): string[] {
    const mapped = spec.objectType === 'companies' ? this.settings.fieldMappings.account.customFields.map((m) => m.property) : [];
    return [...new Set([...spec.properties, spec.modifiedProperty, this.settings.canonicalIdProperty, ...this.settings.extraProperties, ...mapped])];
  }

  /** With OAuth, a current access token first; a 401 (revoked or expired early) gets one refresh and one retry. */
  private async call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    const tokens = this.tokens;
    if (!tokens) return this.send(operation, fn);
    let used = '';
    const attempt = async () => {
      used = await tokens.accessToken();
      this.client.setAccessToken(used);
      return this.send(operation, fn);
    };
    try {
      return await attempt();
    } catch (err) {
      if (!(err instanceof AuthError) || err.status !== 401) throw err;
      tokens.invalidate(used);
      return attempt();
    }
  }

  private send<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    return this.outbound.call(`hubspot.${operation}`, async () => {
      try {
        return await fn();
      } catch (err) {
        throw mapHubSpotError(err, operation);
      }
    });
  }
}

/**
 * The record as HubSpot's JSON has it (dates back to ISO strings), for `remoteData`; a contact or deal with its
 * company association in the shape HubSpot answers `?associations=companies`. The association is part of the record
 * we compare: the modification time need not move when only an association changes (it does not in the fake).
 */
function rawRecord(o: SimplePublicObject, company?: string | null): JsonObject {
  return {
    id: o.id,
    properties: { ...o.properties },
    createdAt: o.createdAt.toISOString(),
    updatedAt: o.updatedAt.toISOString(),
    archived: o.archived ?? false,
    ...(company === undefined ? {} : { associations: { companies: { results: company ? [{ id: company, type: 'primary' }] : [] } } }),
  };
}

/** The SDK's upsert input types properties as strings; HubSpot clears a property with "". */
function nonNull(p: Record<string, string | null>): Record<string, string> {
  return Object.fromEntries(Object.entries(p).map(([k, v]) => [k, v ?? '']));
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
