/**
 * The realistic mix of bench/gateways.ts (issue 17): what many clients do at once, next to the single repeated query.
 *
 * - **Principals**: `--principals` tokens spread over both tenants and the three token kinds (per tenant: 80 % users,
 *   13 % services, 7 % partners; at least one of each), each with its own `sub`, so no two principals' subgraph requests
 *   carry the same claims and in-flight dedup (ours or Hive's) cannot merge them.
 * - **Operations**: 30 named operations (account 360 by id and by page, lists with filters and cursors, single-entity
 *   lookups across CRM, ERP, billing and sync, the plan catalogue) and 4 mutations; every operation is validated
 *   against schema/api.graphql before the run. Variables are drawn from the seeded data (ids, cursors, filters, page
 *   sizes, search strings): a read takes one of `variants` variable sets drawn per operation and tenant (so that the
 *   subgraph memo can answer repeated reads and the gateway stays the bottleneck; 0 draws fresh ones per request),
 *   a write always fresh ones. Principals differ by `sub`, so their subgraph requests carry different claims and no
 *   gateway can merge them in flight.
 * - **Weights**: users send 70 % of the requests, services 20 %, partners 10 %; users and services send a mutation
 *   with probability 5/90, so about 5 % of all requests are writes; partners only read, and only the operations
 *   allowlisted for them (PARTNER_OPERATIONS of our gateway: the sha256 of each exact text, which the partner sends
 *   whole; the other gateways enforce no allowlist).
 * - The sequence is drawn from a seeded generator (`--seed`), so every gateway gets the same kind of traffic.
 */
import { readFileSync } from 'node:fs';
import { buildSchema, parse, validate } from 'graphql';
import { type ForwardedRequest, claimsSigner } from '../lib/auth/forwarded';
import { type Principal, type TokenKind } from '../lib/auth/principal';
import { type JwtSettings, mintToken } from '../lib/auth/tokens';
import { API_SCHEMA_PATH } from '../lib/schema';
import { documentHash } from '../gateway/trusted-documents';
import type { LoadRequest } from './support';
import { BENCH_TENANTS, type SubgraphUrls } from './gateways-common';

/** The seeded records an operation's variables are drawn from, per tenant. */
export interface TenantIds {
  accounts: string[];
  accountCursors: string[];
  contacts: string[];
  opportunities: string[];
  invoices: string[];
  invoiceCursors: string[];
  subscriptions: string[];
  planCodes: string[];
}

type Rand = () => number;
const pick = <T>(xs: readonly T[], r: Rand): T => {
  const x = xs[Math.floor(r() * xs.length)];
  if (x === undefined) throw new Error('pick from an empty list');
  return x;
};
const between = (lo: number, hi: number, r: Rand) => lo + Math.floor(r() * (hi - lo + 1));

/** A small fast seeded generator (mulberry32): the same `--seed` draws the same traffic. */
export function seeded(seed: number): Rand {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const MONEY = 'amountMinor currency';
const STAGES = ['LEAD', 'PROSPECT', 'CUSTOMER', 'CHURNED'] as const;
const OPEN_STAGES = ['PROSPECTING', 'QUALIFICATION', 'PROPOSAL', 'NEGOTIATION'] as const;
const INVOICE_STATUSES = ['DRAFT', 'POSTED', 'PAID', 'VOID'] as const;
const SUB_STATUSES = ['ACTIVE', 'TRIALING', 'PAST_DUE', 'CANCELED'] as const;
const LETTERS = 'abcdefghiklmnoprstu';

export interface MixOperation {
  name: string;
  query: string;
  write: boolean;
  /** Partners may send it (it is on their allowlist). */
  partner: boolean;
  /** Relative weight among the reads (or among the writes). */
  weight: number;
  variables: (ids: TenantIds, r: Rand) => Record<string, unknown>;
}

const ACCOUNT_360_FIELDS = `id name lifecycleStage externalIds { system remoteId }
  contacts(first: 5) { nodes { id email } }
  opportunities(first: 5, filter: { open: true }) { nodes { id stage amount { ${MONEY} } } }
  creditLimit { ${MONEY} } creditStatus balance { ${MONEY} }
  invoices(first: 5) { nodes { id number status total { ${MONEY} } subscription { id status } } }
  payments(first: 5) { nodes { id amount { ${MONEY} } } }
  subscriptions { id status mrr { ${MONEY} } items { quantity plan { code } } }
  syncStatus { system state lastSyncedAt }`;

const op = (name: string, weight: number, partner: boolean, query: string, variables: MixOperation['variables']): MixOperation => ({
  name, query: query.replace(/\s+/g, ' ').trim(), write: false, partner, weight, variables,
});
const write = (name: string, weight: number, query: string, variables: MixOperation['variables']): MixOperation => ({
  name, query: query.replace(/\s+/g, ' ').trim(), write: true, partner: false, weight, variables,
});

export const MIX_OPERATIONS: readonly MixOperation[] = [
  op('Account360', 8, true, `query Account360($id: ID!) { account(id: $id) { ${ACCOUNT_360_FIELDS} } }`, (d, r) => ({ id: pick(d.accounts, r) })),
  op('Account360Page', 3, false, `query Account360Page($first: Int!, $after: String) { accounts(first: $first, after: $after) { pageInfo { hasNextPage endCursor } nodes { ${ACCOUNT_360_FIELDS} } } }`,
    (d, r) => ({ first: between(3, 10, r), after: r() < 0.5 ? null : pick(d.accountCursors, r) })),
  op('AccountSummary', 10, true, 'query AccountSummary($id: ID!) { account(id: $id) { id name domain industry lifecycleStage owner createdAt updatedAt } }', (d, r) => ({ id: pick(d.accounts, r) })),
  op('AccountContacts', 5, false, 'query AccountContacts($id: ID!, $first: Int!) { account(id: $id) { id name contacts(first: $first) { pageInfo { hasNextPage endCursor } nodes { id firstName lastName email title } } } }',
    (d, r) => ({ id: pick(d.accounts, r), first: between(2, 10, r) })),
  op('AccountFinance', 5, false, `query AccountFinance($id: ID!) { account(id: $id) { id name creditStatus creditLimit { ${MONEY} } balance { ${MONEY} } paymentTermsDays } }`, (d, r) => ({ id: pick(d.accounts, r) })),
  op('AccountSync', 2, false, 'query AccountSync($id: ID!) { account(id: $id) { id syncStatus { system state lastSyncedAt connectionState } } }', (d, r) => ({ id: pick(d.accounts, r) })),
  op('AccountsByStage', 5, true, 'query AccountsByStage($stage: LifecycleStage!, $first: Int!) { accounts(first: $first, filter: { lifecycleStage: $stage }) { pageInfo { hasNextPage endCursor } nodes { id name lifecycleStage owner } } }',
    (_d, r) => ({ stage: pick(STAGES, r), first: between(5, 25, r) })),
  op('AccountsSearch', 4, false, 'query AccountsSearch($q: String!, $first: Int!) { accounts(first: $first, filter: { nameContains: $q }) { nodes { id name domain industry } } }',
    (_d, r) => ({ q: pick([...LETTERS], r), first: between(5, 20, r) })),
  op('AccountsPage', 6, true, 'query AccountsPage($first: Int!, $after: String, $order: ListOrder) { accounts(first: $first, after: $after, orderBy: $order) { edges { cursor node { id name updatedAt } } pageInfo { hasNextPage endCursor } } }',
    (d, r) => {
      // A cursor belongs to its ordering: the seeded ones are of orderBy ID.
      const order = r() < 0.8 ? 'ID' : 'UPDATED_AT';
      return { first: between(5, 30, r), after: order === 'UPDATED_AT' || r() < 0.3 ? null : pick(d.accountCursors, r), order };
    }),
  op('AccountsBalances', 4, false, `query AccountsBalances($first: Int!, $after: String) { accounts(first: $first, after: $after) { nodes { id name creditStatus balance { ${MONEY} } creditLimit { ${MONEY} } } } }`,
    (d, r) => ({ first: between(5, 20, r), after: r() < 0.5 ? null : pick(d.accountCursors, r) })),
  op('AccountsMrr', 3, false, `query AccountsMrr($first: Int!, $statuses: [BillingSubscriptionStatus!]) { accounts(first: $first) { nodes { id name subscriptions(statuses: $statuses) { id status mrr { ${MONEY} } } } } }`,
    (_d, r) => ({ first: between(5, 20, r), statuses: [pick(SUB_STATUSES, r)] })),
  op('AccountsNested', 3, false, `query AccountsNested($first: Int!) { accounts(first: $first) { nodes { id name contacts(first: 5) { nodes { id email } } balance { ${MONEY} }
      invoices(first: 5) { nodes { id number status total { ${MONEY} } subscription { id status } } } subscriptions { id status items { quantity plan { code } } } } } }`,
    (_d, r) => ({ first: between(5, 20, r) })),
  op('Contact', 6, true, 'query Contact($id: ID!) { contact(id: $id) { id firstName lastName email phone title account { id name } } }', (d, r) => ({ id: pick(d.contacts, r) })),
  op('ContactsOfAccount', 4, false, 'query ContactsOfAccount($accountId: ID!, $first: Int!) { contacts(first: $first, filter: { accountId: $accountId }) { nodes { id email firstName lastName } } }',
    (d, r) => ({ accountId: pick(d.accounts, r), first: between(3, 10, r) })),
  op('ContactsSearch', 3, false, 'query ContactsSearch($q: String!, $first: Int!) { contacts(first: $first, filter: { emailContains: $q }) { nodes { id email account { id name } } } }',
    (_d, r) => ({ q: pick([...LETTERS], r), first: between(5, 20, r) })),
  op('Opportunity', 4, true, `query Opportunity($id: ID!) { opportunity(id: $id) { id name stage closeDate planCode amount { ${MONEY} } account { id name lifecycleStage } } }`, (d, r) => ({ id: pick(d.opportunities, r) })),
  op('OpenOpportunities', 4, false, `query OpenOpportunities($first: Int!, $stages: [OpportunityStage!]) { opportunities(first: $first, filter: { open: true, stages: $stages }) { nodes { id name stage amount { ${MONEY} } account { id name } } } }`,
    (_d, r) => ({ first: between(5, 20, r), stages: [pick(OPEN_STAGES, r), pick(OPEN_STAGES, r)] })),
  op('OpportunitiesOfAccount', 3, false, 'query OpportunitiesOfAccount($accountId: ID!) { opportunities(first: 10, filter: { accountId: $accountId }) { nodes { id name stage } } }',
    (d, r) => ({ accountId: pick(d.accounts, r) })),
  op('Invoice', 5, true, `query Invoice($id: ID!) { invoice(id: $id) { id number status dueDate total { ${MONEY} } amountDue { ${MONEY} } lines { description quantity } account { id name } subscription { id status } } }`,
    (d, r) => ({ id: pick(d.invoices, r) })),
  op('InvoicesByStatus', 5, true, `query InvoicesByStatus($statuses: [InvoiceStatus!], $first: Int!, $after: String) { invoices(first: $first, after: $after, filter: { statuses: $statuses }) { pageInfo { hasNextPage endCursor } edges { cursor node { id number status total { ${MONEY} } account { id name } } } } }`,
    (d, r) => ({ statuses: [pick(INVOICE_STATUSES, r)], first: between(5, 25, r), after: r() < 0.5 ? null : pick(d.invoiceCursors, r) })),
  op('InvoicesOfAccount', 4, false, `query InvoicesOfAccount($accountId: ID!) { invoices(first: 10, filter: { accountId: $accountId }) { nodes { id number status amountDue { ${MONEY} } } } }`,
    (d, r) => ({ accountId: pick(d.accounts, r) })),
  op('InvoicesDue', 2, false, `query InvoicesDue($dueBefore: Date!) { invoices(first: 20, filter: { dueBefore: $dueBefore, statuses: [POSTED] }) { nodes { id number dueDate amountDue { ${MONEY} } account { id name owner } } } }`,
    (_d, r) => ({ dueBefore: `2027-0${between(1, 9, r)}-${String(between(10, 28, r))}` })),
  op('BillingSubscription', 4, true, `query BillingSubscription($id: ID!) { billingSubscription(id: $id) { id status currentPeriodStart currentPeriodEnd mrr { ${MONEY} } items { quantity plan { code name } } account { id name } } }`,
    (d, r) => ({ id: pick(d.subscriptions, r) })),
  op('SubscriptionsByStatus', 3, false, `query SubscriptionsByStatus($statuses: [BillingSubscriptionStatus!], $first: Int!) { billingSubscriptions(first: $first, filter: { statuses: $statuses }) { nodes { id status mrr { ${MONEY} } account { id name balance { ${MONEY} } } } } }`,
    (_d, r) => ({ statuses: [pick(SUB_STATUSES, r)], first: between(5, 20, r) })),
  op('SubscriptionsByPlan', 2, false, 'query SubscriptionsByPlan($planCode: String!, $first: Int!) { billingSubscriptions(first: $first, filter: { planCode: $planCode }) { nodes { id status account { id name } } } }',
    (d, r) => ({ planCode: pick(d.planCodes, r), first: between(5, 20, r) })),
  op('SubscriptionsOfAccount', 2, false, 'query SubscriptionsOfAccount($accountId: ID!) { billingSubscriptions(first: 10, filter: { accountId: $accountId }) { nodes { id status trialEnd items { quantity plan { code } } } } }',
    (d, r) => ({ accountId: pick(d.accounts, r) })),
  op('Plans', 2, true, `query Plans($activeOnly: Boolean) { plans(activeOnly: $activeOnly) { id code name active prices { id currency interval unitAmount { ${MONEY} } } } }`,
    (_d, r) => ({ activeOnly: r() < 0.7 })),
  op('Journal', 1, false, `query Journal($first: Int!) { journalEntries(first: $first) { nodes { id memo postedAt sourceType lines { accountCode debit { ${MONEY} } credit { ${MONEY} } } } } }`,
    (_d, r) => ({ first: between(5, 15, r) })),
  op('InvoiceWithPayments', 2, false, `query InvoiceWithPayments($id: ID!) { invoice(id: $id) { id number status payments { amount { ${MONEY} } } account { id name balance { ${MONEY} } } } }`,
    (d, r) => ({ id: pick(d.invoices, r) })),
  op('ContactAccount360', 1, false, `query ContactAccount360($id: ID!) { contact(id: $id) { id email account { ${ACCOUNT_360_FIELDS} } } }`, (d, r) => ({ id: pick(d.contacts, r) })),
  write('UpdateAccountOwner', 4, 'mutation UpdateAccountOwner($id: ID!, $owner: String!) { updateAccount(id: $id, input: { owner: $owner }) { id owner updatedAt } }',
    (d, r) => ({ id: pick(d.accounts, r), owner: `owner-${between(1, 500, r)}` })),
  write('UpdateAccountIndustry', 2, 'mutation UpdateAccountIndustry($id: ID!, $industry: String!) { updateAccount(id: $id, input: { industry: $industry }) { id industry } }',
    (d, r) => ({ id: pick(d.accounts, r), industry: pick(['Software', 'Retail', 'Manufacturing', 'Finance', 'Health'], r) })),
  write('UpdateContactTitle', 3, 'mutation UpdateContactTitle($id: ID!, $title: String!) { updateContact(id: $id, input: { title: $title }) { id title } }',
    (d, r) => ({ id: pick(d.contacts, r), title: pick(['CFO', 'CTO', 'Buyer', 'Controller', 'Engineer'], r) })),
  write('CreateContact', 1, 'mutation CreateContact($input: CreateContactInput!) { createContact(input: $input) { id email } }', (d, r) => {
    const n = Math.floor(r() * 1e9);
    return { input: { accountId: pick(d.accounts, r), email: `mix-${n}@example.com`, firstName: 'Mix', lastName: `N${n}` } };
  }),
];

/** Throws unless every operation is valid against the client schema (a typo would turn the mix into error answers). */
export function validateMix(ops: readonly MixOperation[] = MIX_OPERATIONS): void {
  const schema = buildSchema(readFileSync(API_SCHEMA_PATH, 'utf8'));
  for (const o of ops) {
    const errors = validate(schema, parse(o.query));
    if (errors.length > 0) throw new Error(`mix operation ${o.name} is invalid: ${errors.map((e) => e.message).join('; ')}`);
  }
}

export interface MixPrincipal {
  tenant: string;
  kind: TokenKind;
  sub: string;
  token: string;
}

const READ_SCOPES = ['crm:read', 'finance:read', 'billing:read', 'sync:read'];
const SCOPES_OF: Record<TokenKind, string[]> = {
  user: [...READ_SCOPES, 'crm:write'],
  service: [...READ_SCOPES, 'crm:write', 'finance:write', 'billing:write'],
  partner: READ_SCOPES,
};

/** `count` principals over both tenants (half each) and the three kinds (80 / 13 / 7 % per tenant, at least one of each). */
export async function mixPrincipals(jwt: JwtSettings, count: number): Promise<MixPrincipal[]> {
  const perTenant = Math.max(3, Math.floor(count / BENCH_TENANTS.length));
  const partners = Math.max(1, Math.round(perTenant * 0.07));
  const services = Math.max(1, Math.round(perTenant * 0.13));
  const users = perTenant - partners - services;
  const out: MixPrincipal[] = [];
  for (const tenant of BENCH_TENANTS) {
    const kinds: [TokenKind, number, (i: number) => string][] = [
      ['user', users, (i) => `mix-user-${i}`], ['service', services, (i) => `mix-service-${i}`], ['partner', partners, (i) => `${tenant}-partner-${i}`],
    ];
    for (const [kind, n, sub] of kinds) {
      for (let i = 0; i < n; i++) {
        const token = await mintToken(jwt, { sub: sub(i), tenant, kind, scopes: SCOPES_OF[kind], ttlSeconds: 6 * 3600 });
        out.push({ tenant, kind, sub: sub(i), token });
      }
    }
  }
  return out;
}

/** PARTNER_OPERATIONS for our gateway: every mix partner may send the exact texts of the partner operations. */
export function partnerOperationsEnv(principals: readonly MixPrincipal[], ops: readonly MixOperation[] = MIX_OPERATIONS): string {
  const hashes = ops.filter((o) => o.partner).map((o) => documentHash(o.query));
  return JSON.stringify(Object.fromEntries(principals.filter((p) => p.kind === 'partner').map((p) => [p.sub, hashes])));
}

/** Share of the requests each kind sends, and of a user's or service's requests that write. */
const KIND_SHARE: [TokenKind, number][] = [['user', 0.7], ['service', 0.2], ['partner', 0.1]];
const WRITE_SHARE = 0.05 / 0.9;

function weighted(ops: readonly MixOperation[]): (r: Rand) => MixOperation {
  const total = ops.reduce((s, o) => s + o.weight, 0);
  return (r) => {
    let x = r() * total;
    for (const o of ops) {
      x -= o.weight;
      if (x < 0) return o;
    }
    return ops[ops.length - 1] as MixOperation;
  };
}

export interface Mix {
  next: () => LoadRequest;
  /** Requests drawn so far, by operation name and whether they wrote. */
  drawn: { total: number; writes: number; byKind: Record<TokenKind, number>; byOperation: Map<string, number> };
}

/** The request generator of the mix: principal by kind share, then an operation it may send, then fresh variables. */
export function mixRequests(
  principals: readonly MixPrincipal[], ids: Readonly<Record<string, TenantIds>>, seed: number, variants: number, ops: readonly MixOperation[] = MIX_OPERATIONS,
): Mix {
  const r = seeded(seed);
  const pools = new Map<string, Record<string, unknown>[]>();
  const variablesOf = (o: MixOperation, tenant: string, d: TenantIds): Record<string, unknown> => {
    if (o.write || variants === 0) return o.variables(d, r);
    const key = `${tenant}\u0000${o.name}`;
    let pool = pools.get(key);
    if (!pool) {
      pool = Array.from({ length: variants }, () => o.variables(d, r));
      pools.set(key, pool);
    }
    return pick(pool, r);
  };
  const byKind = new Map<TokenKind, MixPrincipal[]>();
  for (const p of principals) byKind.set(p.kind, [...(byKind.get(p.kind) ?? []), p]);
  const reads = weighted(ops.filter((o) => !o.write));
  const partnerReads = weighted(ops.filter((o) => !o.write && o.partner));
  const writes = weighted(ops.filter((o) => o.write));
  const drawn: Mix['drawn'] = { total: 0, writes: 0, byKind: { user: 0, service: 0, partner: 0 }, byOperation: new Map() };
  const next = (): LoadRequest => {
    let x = r();
    let kind: TokenKind = 'user';
    for (const [k, share] of KIND_SHARE) {
      kind = k;
      x -= share;
      if (x < 0) break;
    }
    const p = pick(byKind.get(kind) ?? principals, r);
    const o = p.kind === 'partner' ? partnerReads(r) : r() < WRITE_SHARE ? writes(r) : reads(r);
    const d = ids[p.tenant];
    if (!d) throw new Error(`no seeded ids for tenant ${p.tenant}`);
    drawn.total += 1;
    if (o.write) drawn.writes += 1;
    drawn.byKind[p.kind] += 1;
    drawn.byOperation.set(o.name, (drawn.byOperation.get(o.name) ?? 0) + 1);
    return { body: JSON.stringify({ query: o.query, operationName: o.name, variables: variablesOf(o, p.tenant, d) }), headers: { authorization: `Bearer ${p.token}` } };
  };
  return { next, drawn };
}

// ---------------------------------------------------------------------------------------------------------------
// The seeded ids, read from the subgraphs themselves (with claims signed for a reader of each tenant)

const idList = (nodes: unknown): string[] => (Array.isArray(nodes) ? nodes.flatMap((n: { id?: unknown }) => (typeof n?.id === 'string' ? [n.id] : [])) : []);
const cursorList = (edges: unknown): string[] =>
  Array.isArray(edges) ? edges.flatMap((e: { cursor?: unknown }) => (typeof e?.cursor === 'string' ? [e.cursor] : [])) : [];

async function ask(url: string, sign: (r: ForwardedRequest) => Promise<string>, query: string): Promise<Record<string, { nodes?: unknown; edges?: unknown } | unknown[]>> {
  const request: ForwardedRequest = { query };
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-gateway-claims': await sign(request) }, body: JSON.stringify(request) });
  const body = (await res.json()) as { data?: Record<string, { nodes?: unknown; edges?: unknown } | unknown[]>; errors?: unknown };
  if (!body.data || body.errors) throw new Error(`id discovery failed at ${url}: ${JSON.stringify(body).slice(0, 300)}`);
  return body.data;
}

export async function discoverIds(urls: SubgraphUrls, internalSecret: string): Promise<Record<string, TenantIds>> {
  const signer = claimsSigner(internalSecret);
  const out: Record<string, TenantIds> = {};
  for (const tenant of BENCH_TENANTS) {
    const principal: Principal = { sub: 'bench-discovery', tenant, kind: 'service', scopes: new Set(READ_SCOPES), exp: Math.floor(Date.now() / 1000) + 3600 };
    const sign = (r: ForwardedRequest) => signer(principal, r);
    const crm = await ask(urls.crm, sign, '{ accounts(first: 100) { edges { cursor node { id } } } contacts(first: 100) { nodes { id } } opportunities(first: 100) { nodes { id } } }');
    const erp = await ask(urls.erp, sign, '{ invoices(first: 100) { edges { cursor node { id } } } }');
    const billing = await ask(urls.billing, sign, '{ billingSubscriptions(first: 100) { nodes { id } } plans(activeOnly: false) { code } }');
    const edges = (v: unknown) => (v && typeof v === 'object' && 'edges' in v ? v.edges : []);
    const nodes = (v: unknown) => (v && typeof v === 'object' && 'nodes' in v ? v.nodes : []);
    const nodeIds = (v: unknown) => idList((Array.isArray(edges(v)) ? (edges(v) as { node?: unknown }[]) : []).map((e) => e.node));
    const ids: TenantIds = {
      accounts: nodeIds(crm['accounts']),
      accountCursors: cursorList(edges(crm['accounts'])),
      contacts: idList(nodes(crm['contacts'])),
      opportunities: idList(nodes(crm['opportunities'])),
      invoices: nodeIds(erp['invoices']),
      invoiceCursors: cursorList(edges(erp['invoices'])),
      subscriptions: idList(nodes(billing['billingSubscriptions'])),
      planCodes: (Array.isArray(billing['plans']) ? (billing['plans'] as { code?: unknown }[]) : []).flatMap((p) => (typeof p?.code === 'string' ? [p.code] : [])),
    };
    const empty = Object.entries(ids).filter(([, v]) => v.length === 0).map(([k]) => k);
    if (empty.length > 0) throw new Error(`id discovery found no ${empty.join(', ')} for ${tenant}`);
    out[tenant] = ids;
  }
  return out;
}
