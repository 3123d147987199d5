import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Signature } from '@hubspot/api-client';
import type {
  BatchResponseSimplePublicObject, BatchResponseSimplePublicObjectWithErrors, BatchResponseSimplePublicUpsertObject,
  CollectionResponseWithTotalSimplePublicObjectForwardPaging, SimplePublicObject, SimplePublicUpsertObject, StandardError,
} from '@hubspot/api-client/lib/codegen/crm/objects';
import type { BatchResponsePublicAssociationMultiWithLabel, BatchResponsePublicDefaultAssociation } from '@hubspot/api-client/lib/codegen/crm/associations/v4';
import type { CollectionResponsePublicOwnerForwardPaging, PublicOwner } from '@hubspot/api-client/lib/codegen/crm/owners';
import { HttpFake, sendJson, type Wire } from '../http-fake';

/**
 * A stateful HubSpot CRM for tests and the demo, speaking the public v3/v4 JSON API for the endpoints our adapter
 * uses: objects (companies, contacts, deals) with batch read/upsert and search, v4 default associations, owners.
 * Its answers are typed with @hubspot/api-client's own models (as they travel: `Wire<...>`), so the compiler checks
 * the shapes; status codes are HubSpot's (a create is 201, a batch with misses 207), which the SDK is strict about.
 * HubSpot's documented limits are enforced: a rolling 10-second window per token with the `X-HubSpot-RateLimit-*`
 * headers and a 429 `RATE_LIMITS` envelope, 100 inputs per batch, 200 results per search page, 10,000 per search.
 */

export type HubSpotObjectType = 'companies' | 'contacts' | 'deals';
const OBJECT_TYPES: readonly HubSpotObjectType[] = ['companies', 'contacts', 'deals'];
/** HubSpot's default association type ids (HUBSPOT_DEFINED) between the pairs we use. */
const ASSOCIATION_TYPE: Record<string, number> = {
  'contacts->companies': 1, 'companies->contacts': 2, 'deals->companies': 5, 'companies->deals': 6,
};
/** Properties with unique values, usable as `idProperty` in batch upserts. */
const UNIQUE_PROPERTIES: Record<HubSpotObjectType, readonly string[]> = {
  companies: ['sor_canonical_id'], contacts: ['sor_canonical_id', 'email'], deals: ['sor_canonical_id'],
};
const DEFAULT_PROPERTIES: Record<HubSpotObjectType, readonly string[]> = {
  companies: ['name', 'domain', 'createdate', 'hs_lastmodifieddate', 'hs_object_id'],
  contacts: ['firstname', 'lastname', 'email', 'createdate', 'lastmodifieddate', 'hs_object_id'],
  deals: ['dealname', 'amount', 'dealstage', 'pipeline', 'closedate', 'createdate', 'hs_lastmodifieddate', 'hs_object_id'],
};

interface StoredObject {
  id: string;
  properties: Record<string, string | null>;
  createdAt: Date;
  updatedAt: Date;
  archived: boolean;
}

/** HubSpot's webhook payload item (v3 app webhooks): an object event, or an association change (no `objectId`). */
export interface HubSpotWebhookEvent {
  eventId: number;
  subscriptionId: number;
  portalId: number;
  appId: number;
  occurredAt: number;
  subscriptionType: string;
  attemptNumber: number;
  objectId?: number;
  propertyName?: string;
  propertyValue?: string;
  changeSource: string;
  associationType?: string;
  fromObjectId?: number;
  toObjectId?: number;
  associationRemoved?: boolean;
  isPrimaryAssociation?: boolean;
}

export interface HubSpotFakeOptions {
  /** Private-app tokens accepted. */
  tokens?: readonly string[];
  /** The app's client secret, used to sign webhooks (v3). */
  clientSecret?: string;
  /** Requests allowed per token in any 10-second window (HubSpot private apps: 100 to 190). */
  rateLimitPer10s?: number;
  portalId?: number;
}

export class HubSpotFake extends HttpFake {
  /** Change notifications not yet delivered (see `deliverWebhooks`). */
  readonly pendingEvents: HubSpotWebhookEvent[] = [];
  readonly tokens: Set<string>;
  readonly clientSecret: string;
  rateLimitPer10s: number;
  /** OAuth: answer each refresh with a new refresh token (the old one then stops working). */
  rotateRefreshTokens = false;
  /** OAuth access token lifetime (HubSpot: 1800 s). */
  accessTokenTtlS = 1800;
  private readonly portalId: number;
  private readonly oauthApps = new Map<string, string>();
  private readonly refreshTokens = new Map<string, string>();
  private readonly accessTokens = new Map<string, number>();
  private readonly objects = new Map<HubSpotObjectType, Map<string, StoredObject>>(OBJECT_TYPES.map((t) => [t, new Map()]));
  private readonly associations = new Set<string>();
  private readonly owners: PublicOwner[] = [];
  private readonly accepted = new Map<string, number[]>();
  private nextId = 1000;
  private nextEventId = 1;
  private lastTimestamp = 0;

  constructor(options: HubSpotFakeOptions = {}) {
    super();
    this.tokens = new Set(options.tokens ?? ['pat-na1-fake-token']);
    this.clientSecret = options.clientSecret ?? 'fake-client-secret';
    this.rateLimitPer10s = options.rateLimitPer10s ?? 190;
    this.portalId = options.portalId ?? 62515;
  }


  // ---- out-of-band changes, as a user in HubSpot's UI would make them ----

  create(type: HubSpotObjectType, properties: Record<string, string | null>): string {
    return this.write(type, null, properties, 'CRM_UI').id;
  }

  edit(type: HubSpotObjectType, id: string, properties: Record<string, string | null>): void {
    if (!this.objects.get(type)?.has(id)) throw new Error(`no ${type} ${id}`);
    this.write(type, id, properties, 'CRM_UI');
  }

  /** Registers an OAuth app and installs it in the portal; returns the install's refresh token. */
  installOAuthApp(clientId: string, clientSecret: string): string {
    this.oauthApps.set(clientId, clientSecret);
    const refreshToken = `rt-${randomUUID()}`;
    this.refreshTokens.set(refreshToken, clientId);
    return refreshToken;
  }

  /** Whether HubSpot would still take this refresh token (a rotated one is not). */
  refreshTokenValid(refreshToken: string): boolean {
    return this.refreshTokens.has(refreshToken);
  }

  /** Every OAuth access token issued so far stops working (as 30 minutes passing would do). */
  expireAccessTokens(): void {
    for (const token of this.accessTokens.keys()) this.accessTokens.set(token, 0);
  }

  addOwner(owner: { email: string; firstName: string; lastName: string }): string {
    const id = String(this.nextId++);
    const now = new Date();
    this.owners.push({ id, ...owner, userId: Number(id), createdAt: now, updatedAt: now, archived: false, type: 'PERSON' as PublicOwner['type'] });
    return id;
  }

  record(type: HubSpotObjectType, id: string): { properties: Record<string, string | null>; updatedAt: Date } | undefined {
    return this.objects.get(type)?.get(id);
  }

  count(type: HubSpotObjectType): number {
    return this.objects.get(type)?.size ?? 0;
  }

  associated(fromType: HubSpotObjectType, fromId: string, toType: HubSpotObjectType): string[] {
    const prefix = `${fromType}:${fromId}->${toType}:`;
    return [...this.associations].filter((a) => a.startsWith(prefix)).map((a) => a.slice(prefix.length));
  }

  /** Signs a webhook body the way HubSpot does (v3): base64 HMAC-SHA256 of method + URI + body + timestamp. */
  sign(method: string, url: string, body: string, timestamp: number): Record<string, string> {
    const signature = Signature.getSignature(method, 'v3', { signature: '', clientSecret: this.clientSecret, requestBody: body, url, timestamp });
    return { 'content-type': 'application/json', 'x-hubspot-signature-v3': signature, 'x-hubspot-request-timestamp': String(timestamp) };
  }

  /** POSTs the pending change notifications (up to 100 per request, as HubSpot batches them), signed, to `url`. */
  async deliverWebhooks(url: string): Promise<number[]> {
    const statuses: number[] = [];
    while (this.pendingEvents.length > 0) {
      const batch = this.pendingEvents.splice(0, 100);
      const body = JSON.stringify(batch);
      const res = await fetch(url, { method: 'POST', headers: this.sign('POST', url, body, Date.now()), body });
      statuses.push(res.status);
    }
    return statuses;
  }

  // ---- the HTTP API ----

  protected async handle(req: IncomingMessage, body: string, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const failure = this.faults.failNext.shift();
    if (failure !== undefined) return this.error(res, failure, failure >= 500 ? 'INTERNAL_ERROR' : 'VALIDATION_ERROR', 'Injected failure');
    if (url.pathname === '/oauth/v1/token' && req.method === 'POST') return this.token(new URLSearchParams(body), res);
    const expiresAt = token ? this.accessTokens.get(token) : undefined;
    if (expiresAt !== undefined && expiresAt <= Date.now()) {
      return this.error(res, 401, 'EXPIRED_AUTHENTICATION', 'The OAuth token used to make this call expired.');
    }
    if (!token || (!this.tokens.has(token) && expiresAt === undefined) || this.faults.revoked) {
      return this.error(res, 401, 'INVALID_AUTHENTICATION', 'Authentication credentials not found. This API supports OAuth 2.0 authentication.');
    }
    const headers = this.admit(token);
    if (!headers) return;
    const ok = (status: number, payload: unknown) => sendJson(res, status, payload, headers.values);
    if (headers.limited) {
      return sendJson(res, 429, { status: 'error', message: 'You have reached your ten_secondly_rolling limit.', errorType: 'RATE_LIMIT', correlationId: randomUUID(), policyName: 'TEN_SECONDLY_ROLLING', category: 'RATE_LIMITS' }, headers.values);
    }
    const json = body ? (JSON.parse(body) as Record<string, unknown>) : {};
    const path = url.pathname.replace(/\/$/, '');
    let m: RegExpExecArray | null;
    if ((m = /^\/crm\/v3\/objects\/(\w+)\/batch\/(upsert|read|update)$/.exec(path)) && req.method === 'POST') {
      const type = this.objectType(m[1]);
      if (!type) return this.error(res, 404, 'OBJECT_NOT_FOUND', `Unknown object type ${m[1]}`);
      if (m[2] === 'update') return this.batchUpdate(type, json, res, ok);
      return m[2] === 'upsert' ? this.batchUpsert(type, json, res, ok) : this.batchRead(type, json, ok);
    }
    if ((m = /^\/crm\/v3\/objects\/(\w+)\/search$/.exec(path)) && req.method === 'POST') {
      const type = this.objectType(m[1]);
      if (!type) return this.error(res, 404, 'OBJECT_NOT_FOUND', `Unknown object type ${m[1]}`);
      return this.search(type, json, res, ok);
    }
    if ((m = /^\/crm\/v3\/objects\/(\w+)$/.exec(path)) && req.method === 'POST') {
      const type = this.objectType(m[1]);
      if (!type) return this.error(res, 404, 'OBJECT_NOT_FOUND', `Unknown object type ${m[1]}`);
      const created = this.write(type, null, (json['properties'] ?? {}) as Record<string, string | null>, 'INTEGRATION');
      return ok(201, this.wire(type, created, null));
    }
    if ((m = /^\/crm\/v3\/objects\/(\w+)\/(\d+)$/.exec(path))) {
      const type = this.objectType(m[1]);
      const found = type ? this.objects.get(type)?.get(m[2]!) : undefined;
      if (!type || !found || found.archived) return this.error(res, 404, 'OBJECT_NOT_FOUND', 'Object not found.');
      if (req.method === 'PATCH') {
        return ok(200, this.wire(type, this.write(type, found.id, (json['properties'] ?? {}) as Record<string, string | null>, 'INTEGRATION'), null));
      }
      if (req.method === 'GET') return ok(200, this.wire(type, found, url.searchParams.get('properties')?.split(',') ?? null));
    }
    if ((m = /^\/crm\/v4\/objects\/(\w+)\/(\d+)\/associations\/default\/(\w+)\/(\d+)$/.exec(path)) && req.method === 'PUT') {
      return this.associateDefault(m[1]!, m[3]!, [{ from: { id: m[2]! }, to: { id: m[4]! } }], res, ok);
    }
    if ((m = /^\/crm\/v4\/associations\/(\w+)\/(\w+)\/batch\/associate\/default$/.exec(path)) && req.method === 'POST') {
      return this.associateDefault(m[1]!, m[2]!, (json['inputs'] ?? []) as { from: { id: string }; to: { id: string } }[], res, ok);
    }
    if ((m = /^\/crm\/v4\/associations\/(\w+)\/(\w+)\/batch\/read$/.exec(path)) && req.method === 'POST') {
      return this.readAssociations(m[1]!, m[2]!, json, ok);
    }
    if (path === '/account-info/v3/details' && req.method === 'GET') {
      return ok(200, { portalId: this.portalId, accountType: 'STANDARD', timeZone: 'UTC', companyCurrency: 'USD', additionalCurrencies: [], utcOffset: '+00:00', utcOffsetMilliseconds: 0, uiDomain: 'app.hubspot.com', dataHostingLocation: 'na1' });
    }
    if (path === '/crm/v3/owners' && req.method === 'GET') {
      const after = Number(url.searchParams.get('after') ?? 0);
      const limit = Math.min(Number(url.searchParams.get('limit') ?? 100), 500);
      const page = this.owners.slice(after, after + limit);
      const answer: Wire<CollectionResponsePublicOwnerForwardPaging> = {
        results: page.map((o) => ({ ...o, createdAt: o.createdAt.toISOString(), updatedAt: o.updatedAt.toISOString() })),
        ...(after + limit < this.owners.length ? { paging: { next: { after: String(after + limit) } } } : {}),
      };
      return ok(200, answer);
    }
    return this.error(res, 404, 'OBJECT_NOT_FOUND', `No route for ${req.method} ${path}`);
  }

  /** HubSpot's token endpoint, grant `refresh_token` (form-encoded, as the SDK sends it). */
  private token(form: URLSearchParams, res: ServerResponse): void {
    const refreshToken = form.get('refresh_token') ?? '';
    const clientId = form.get('client_id') ?? '';
    if (form.get('grant_type') !== 'refresh_token' || this.refreshTokens.get(refreshToken) !== clientId || this.oauthApps.get(clientId) !== form.get('client_secret') || this.faults.revoked) {
      return sendJson(res, 400, { status: 'BAD_REFRESH_TOKEN', message: 'missing or unknown refresh token', correlationId: randomUUID() });
    }
    let next = refreshToken;
    if (this.rotateRefreshTokens) {
      this.refreshTokens.delete(refreshToken);
      next = `rt-${randomUUID()}`;
      this.refreshTokens.set(next, clientId);
    }
    const accessToken = `at-${randomUUID()}`;
    this.accessTokens.set(accessToken, Date.now() + this.accessTokenTtlS * 1000);
    sendJson(res, 200, { token_type: 'bearer', refresh_token: next, access_token: accessToken, expires_in: this.accessTokenTtlS });
  }

  /** Counts the request in the token's rolling 10-second window; `limited` when it is over HubSpot's limit. */
  private admit(token: string): { limited: boolean; values: Record<string, string> } {
    const now = Date.now();
    const recent = (this.accepted.get(token) ?? []).filter((t) => t > now - 10_000);
    const limited = recent.length >= this.rateLimitPer10s;
    if (!limited) recent.push(now);
    this.accepted.set(token, recent);
    return {
      limited,
      values: {
        'x-hubspot-ratelimit-interval-milliseconds': '10000',
        'x-hubspot-ratelimit-max': String(this.rateLimitPer10s),
        'x-hubspot-ratelimit-remaining': String(Math.max(0, this.rateLimitPer10s - recent.length)),
      },
    };
  }

  private batchUpsert(type: HubSpotObjectType, json: Record<string, unknown>, res: ServerResponse, ok: (s: number, p: unknown) => void): void {
    const inputs = (json['inputs'] ?? []) as { idProperty?: string; id: string; properties: Record<string, string | null> }[];
    if (inputs.length > 100) return this.error(res, 400, 'VALIDATION_ERROR', 'Batch size exceeds the limit of 100.');
    const ids = new Set<string>();
    for (const input of inputs) {
      if (!input.idProperty || !UNIQUE_PROPERTIES[type].includes(input.idProperty)) {
        return this.error(res, 400, 'VALIDATION_ERROR', `Property ${input.idProperty ?? '(none)'} is not a unique identifier property.`);
      }
      if (ids.has(input.id)) return this.error(res, 400, 'VALIDATION_ERROR', `Duplicate id ${input.id} in batch input.`);
      ids.add(input.id);
    }
    const started = new Date();
    const results: Wire<SimplePublicUpsertObject>[] = inputs.map((input) => {
      const idProperty = input.idProperty!;
      const existing = [...this.objects.get(type)!.values()].find((o) => !o.archived && o.properties[idProperty] === input.id);
      const written = this.write(type, existing?.id ?? null, { ...input.properties, [idProperty]: input.id }, 'INTEGRATION');
      const wired = this.wire(type, written, [...Object.keys(input.properties), idProperty]);
      return { ...wired, properties: Object.fromEntries(Object.entries(wired.properties).map(([k, v]) => [k, v ?? ''])), new: !existing };
    });
    const answer: Wire<BatchResponseSimplePublicUpsertObject> = {
      status: 'COMPLETE' as Wire<BatchResponseSimplePublicUpsertObject>['status'], results, startedAt: started.toISOString(), completedAt: new Date().toISOString(),
    };
    ok(200, answer);
  }

  /** Batch update by HubSpot id (200, or 207 naming the ids it does not have); a value another record holds in a unique property is refused. */
  private batchUpdate(type: HubSpotObjectType, json: Record<string, unknown>, res: ServerResponse, ok: (s: number, p: unknown) => void): void {
    const inputs = (json['inputs'] ?? []) as { id: string; properties: Record<string, string | null> }[];
    if (inputs.length > 100) return this.error(res, 400, 'VALIDATION_ERROR', 'Batch size exceeds the limit of 100.');
    const store = this.objects.get(type)!;
    for (const input of inputs) {
      for (const unique of UNIQUE_PROPERTIES[type]) {
        const value = input.properties[unique];
        if (!value) continue;
        const holder = [...store.values()].find((o) => o.id !== input.id && !o.archived && o.properties[unique] === value);
        if (holder) return this.error(res, 400, 'VALIDATION_ERROR', `${unique} value ${value} already exists on ${holder.id}.`);
      }
    }
    const started = new Date().toISOString();
    const present = inputs.filter((i) => store.get(i.id) && !store.get(i.id)!.archived);
    const results = present.map((i) => this.wire(type, this.write(type, i.id, i.properties, 'INTEGRATION'), Object.keys(i.properties)));
    const missing = inputs.filter((i) => !present.includes(i)).map((i) => i.id);
    const status = 'COMPLETE' as Wire<BatchResponseSimplePublicObject>['status'];
    if (missing.length === 0) {
      const answer: Wire<BatchResponseSimplePublicObject> = { status, results, startedAt: started, completedAt: new Date().toISOString() };
      return ok(200, answer);
    }
    const errors: Wire<StandardError>[] = [{ status: 'error', category: 'OBJECT_NOT_FOUND', message: 'Could not update some objects.', context: { ids: missing }, links: {}, errors: [] }];
    const answer: Wire<BatchResponseSimplePublicObjectWithErrors> = {
      status: 'COMPLETE' as Wire<BatchResponseSimplePublicObjectWithErrors>['status'], results, numErrors: 1, errors, startedAt: started, completedAt: new Date().toISOString(),
    };
    ok(207, answer);
  }

  private batchRead(type: HubSpotObjectType, json: Record<string, unknown>, ok: (s: number, p: unknown) => void): void {
    const inputs = (json['inputs'] ?? []) as { id: string }[];
    const properties = (json['properties'] ?? null) as string[] | null;
    const idProperty = json['idProperty'] as string | undefined;
    const started = new Date().toISOString();
    const objects = this.objects.get(type)!;
    const store = idProperty ? [...objects.values()].filter((o) => !o.archived) : [];
    const byId = (id: string) => {
      const o = objects.get(id);
      return o && !o.archived ? o : undefined;
    };
    const found = inputs.map((i) => ({ id: i.id, object: idProperty ? store.find((o) => o.properties[idProperty] === i.id) : byId(i.id) }));
    const results = found.flatMap((f) => (f.object ? [this.wire(type, f.object, properties)] : []));
    const missing = found.filter((f) => !f.object).map((f) => f.id);
    const status = 'COMPLETE' as Wire<BatchResponseSimplePublicObject>['status'];
    if (missing.length === 0) {
      const answer: Wire<BatchResponseSimplePublicObject> = { status, results, startedAt: started, completedAt: new Date().toISOString() };
      return ok(200, answer);
    }
    const errors: Wire<StandardError>[] = [{
      status: 'error', category: 'OBJECT_NOT_FOUND', message: 'Could not get some objects, they may be deleted or not exist.',
      context: { ids: missing }, links: {}, errors: [],
    }];
    const answer: Wire<BatchResponseSimplePublicObjectWithErrors> = { status: 'COMPLETE' as Wire<BatchResponseSimplePublicObjectWithErrors>['status'], results, numErrors: 1, errors, startedAt: started, completedAt: new Date().toISOString() };
    ok(207, answer);
  }

  private search(type: HubSpotObjectType, json: Record<string, unknown>, res: ServerResponse, ok: (s: number, p: unknown) => void): void {
    const limit = Math.min(Number(json['limit'] ?? 10), 200);
    const after = Number(json['after'] ?? 0);
    if (after + limit > 10_000) return this.error(res, 400, 'VALIDATION_ERROR', 'The search API returns at most 10,000 results per query.');
    const groups = (json['filterGroups'] ?? []) as { filters: { propertyName: string; operator: string; value?: string; values?: string[] }[] }[];
    const sorts = (json['sorts'] ?? []) as (string | { propertyName: string; direction?: string })[];
    let rows = [...this.objects.get(type)!.values()].filter((o) => !o.archived && (groups.length === 0 || groups.some((g) => g.filters.every((f) => matches(o, f)))));
    const sort = sorts[0];
    if (sort !== undefined) {
      const name = typeof sort === 'string' ? sort.replace(/^-/, '') : sort.propertyName;
      const descending = typeof sort === 'string' ? sort.startsWith('-') : sort.direction === 'DESCENDING';
      rows = rows.sort((a, b) => compare(a.properties[name] ?? null, b.properties[name] ?? null) * (descending ? -1 : 1));
    } else {
      rows = rows.sort((a, b) => Number(a.id) - Number(b.id));
    }
    const page = rows.slice(after, after + limit);
    const answer: Wire<CollectionResponseWithTotalSimplePublicObjectForwardPaging> = {
      total: rows.length,
      results: page.map((o) => this.wire(type, o, (json['properties'] ?? null) as string[] | null)),
      ...(after + limit < rows.length ? { paging: { next: { after: String(after + limit) } } } : {}),
    };
    ok(200, answer);
  }

  private associateDefault(fromType: string, toType: string, pairs: readonly { from: { id: string }; to: { id: string } }[], res: ServerResponse, ok: (s: number, p: unknown) => void): void {
    const from = this.objectType(fromType);
    const to = this.objectType(toType);
    const typeId = ASSOCIATION_TYPE[`${fromType}->${toType}`];
    const reverseTypeId = ASSOCIATION_TYPE[`${toType}->${fromType}`];
    if (!from || !to || typeId === undefined || reverseTypeId === undefined) return this.error(res, 400, 'VALIDATION_ERROR', `No default association from ${fromType} to ${toType}.`);
    if (pairs.some((p) => !this.objects.get(from)!.has(p.from.id) || !this.objects.get(to)!.has(p.to.id))) return this.error(res, 404, 'OBJECT_NOT_FOUND', 'Object not found.');
    type Result = Wire<BatchResponsePublicDefaultAssociation>['results'][number];
    const spec = (id: number) => ({ associationCategory: 'HUBSPOT_DEFINED', associationTypeId: id }) as Result['associationSpec'];
    const results: Result[] = pairs.flatMap(({ from: { id: fromId }, to: { id: toId } }) => {
      // A primary company is one per record: the new default association replaces the old one.
      for (const a of [...this.associations]) if (a.startsWith(`${from}:${fromId}->${to}:`)) this.associations.delete(a);
      this.associations.add(`${from}:${fromId}->${to}:${toId}`);
      this.associations.add(`${to}:${toId}->${from}:${fromId}`);
      this.queueAssociationEvent(from, fromId, to, toId);
      return [{ from: { id: fromId }, to: { id: toId }, associationSpec: spec(typeId) }, { from: { id: toId }, to: { id: fromId }, associationSpec: spec(reverseTypeId) }];
    });
    const now = new Date().toISOString();
    const answer: Wire<BatchResponsePublicDefaultAssociation> = {
      status: 'COMPLETE' as Wire<BatchResponsePublicDefaultAssociation>['status'], results, startedAt: now, completedAt: now,
    };
    ok(200, answer);
  }

  private readAssociations(fromType: string, toType: string, json: Record<string, unknown>, ok: (s: number, p: unknown) => void): void {
    const inputs = (json['inputs'] ?? []) as { id: string }[];
    const typeId = ASSOCIATION_TYPE[`${fromType}->${toType}`] ?? 0;
    const now = new Date().toISOString();
    type Result = Wire<BatchResponsePublicAssociationMultiWithLabel>['results'][number];
    const results: Result[] = inputs.map((i) => ({
      from: { id: i.id },
      to: [...this.associations].filter((a) => a.startsWith(`${fromType}:${i.id}->${toType}:`)).map((a) => ({
        toObjectId: a.slice(a.lastIndexOf(':') + 1),
        associationTypes: [{ category: 'HUBSPOT_DEFINED', typeId } as Result['to'][number]['associationTypes'][number]],
      })),
    })).filter((r) => r.to.length > 0);
    const answer: Wire<BatchResponsePublicAssociationMultiWithLabel> = {
      status: 'COMPLETE' as Wire<BatchResponsePublicAssociationMultiWithLabel>['status'], results, startedAt: now, completedAt: now,
    };
    ok(200, answer);
  }

  /** Creates (id null) or updates an object, maintaining HubSpot's system properties and queuing change events. */
  private write(type: HubSpotObjectType, id: string | null, properties: Record<string, string | null>, changeSource: string): StoredObject {
    const store = this.objects.get(type)!;
    // Strictly increasing modification times, so tests can tell writes apart; HubSpot itself has ms ties.
    const now = new Date(Math.max(Date.now(), this.lastTimestamp + 1));
    this.lastTimestamp = now.getTime();
    const modified: Record<string, string> = type === 'contacts' ? { lastmodifieddate: now.toISOString(), hs_lastmodifieddate: now.toISOString() } : { hs_lastmodifieddate: now.toISOString() };
    const singular = type === 'companies' ? 'company' : type === 'contacts' ? 'contact' : 'deal';
    const existing = id ? store.get(id) : undefined;
    if (existing) {
      for (const [name, value] of Object.entries(properties)) {
        if (existing.properties[name] === value) continue;
        this.queueEvent(`${singular}.propertyChange`, existing.id, changeSource, name, value ?? '');
      }
      Object.assign(existing.properties, properties, modified);
      existing.updatedAt = now;
      return existing;
    }
    const newId = String(this.nextId++);
    const created: StoredObject = {
      id: newId, createdAt: now, updatedAt: now, archived: false,
      properties: { ...properties, ...modified, createdate: now.toISOString(), hs_object_id: newId },
    };
    store.set(newId, created);
    this.queueEvent(`${singular}.creation`, newId, changeSource);
    return created;
  }

  /**
   * HubSpot's `*.associationChange` notification: no `objectId`, the pair as `fromObjectId`/`toObjectId` with the
   * association type's name (CONTACT_TO_COMPANY, ...). Modification times do not move on an association change.
   */
  private queueAssociationEvent(from: HubSpotObjectType, fromId: string, to: HubSpotObjectType, toId: string): void {
    const singular = (t: HubSpotObjectType) => (t === 'companies' ? 'company' : t === 'contacts' ? 'contact' : 'deal');
    this.pendingEvents.push({
      eventId: this.nextEventId++, subscriptionId: 2, portalId: this.portalId, appId: 1, occurredAt: Date.now(), subscriptionType: `${singular(from)}.associationChange`,
      attemptNumber: 0, changeSource: 'CRM_UI', associationType: `${singular(from).toUpperCase()}_TO_${singular(to).toUpperCase()}`,
      fromObjectId: Number(fromId), toObjectId: Number(toId), associationRemoved: false, isPrimaryAssociation: true,
    });
  }

  /** Associates `from` with `to` as a user would in HubSpot's UI (the default, primary association; one event). */
  associate(fromType: HubSpotObjectType, fromId: string, toType: HubSpotObjectType, toId: string): void {
    for (const a of [...this.associations]) if (a.startsWith(`${fromType}:${fromId}->${toType}:`)) this.associations.delete(a);
    this.associations.add(`${fromType}:${fromId}->${toType}:${toId}`);
    this.associations.add(`${toType}:${toId}->${fromType}:${fromId}`);
    this.queueAssociationEvent(fromType, fromId, toType, toId);
  }

  private queueEvent(subscriptionType: string, objectId: string, changeSource: string, propertyName?: string, propertyValue?: string): void {
    this.pendingEvents.push({
      eventId: this.nextEventId++, subscriptionId: 1, portalId: this.portalId, appId: 1, occurredAt: Date.now(), subscriptionType,
      attemptNumber: 0, objectId: Number(objectId), changeSource, ...(propertyName ? { propertyName, propertyValue } : {}),
    });
  }

  private wire(type: HubSpotObjectType, o: StoredObject, properties: readonly string[] | null): Wire<SimplePublicObject> {
    const names = new Set([...DEFAULT_PROPERTIES[type], ...(properties ?? [])]);
    return {
      id: o.id,
      properties: Object.fromEntries([...names].map((n) => [n, o.properties[n] ?? null])),
      createdAt: o.createdAt.toISOString(),
      updatedAt: o.updatedAt.toISOString(),
      archived: o.archived,
    };
  }

  private objectType(name: string | undefined): HubSpotObjectType | undefined {
    return OBJECT_TYPES.find((t) => t === name);
  }

  private error(res: ServerResponse, status: number, category: string, message: string): void {
    sendJson(res, status, { status: 'error', message, correlationId: randomUUID(), category });
  }
}

/** Numbers compare as numbers, dates (ISO or epoch ms, as HubSpot accepts both in filters) as instants. */
function comparable(value: string): number | string {
  if (/^-?\d+(\.\d+)?$/.test(value)) return Number(value);
  const instant = Date.parse(value);
  return Number.isNaN(instant) ? value : instant;
}

function compare(a: string | null, b: string | null): number {
  if (a === null || b === null) return a === b ? 0 : a === null ? -1 : 1;
  const x = comparable(a);
  const y = comparable(b);
  if (typeof x === 'number' && typeof y === 'number') return x - y;
  return String(x) < String(y) ? -1 : String(x) > String(y) ? 1 : 0;
}

function matches(o: StoredObject, f: { propertyName: string; operator: string; value?: string; values?: string[] }): boolean {
  const actual = o.properties[f.propertyName] ?? null;
  const c = f.value === undefined ? 0 : compare(actual, f.value);
  switch (f.operator) {
    case 'EQ': return actual !== null && c === 0;
    case 'NEQ': return actual === null || c !== 0;
    case 'GT': return actual !== null && c > 0;
    case 'GTE': return actual !== null && c >= 0;
    case 'LT': return actual !== null && c < 0;
    case 'LTE': return actual !== null && c <= 0;
    case 'IN': return actual !== null && (f.values ?? []).some((v) => compare(actual, v) === 0);
    case 'HAS_PROPERTY': return actual !== null && actual !== '';
    case 'NOT_HAS_PROPERTY': return actual === null || actual === '';
    default: return false;
  }
}
