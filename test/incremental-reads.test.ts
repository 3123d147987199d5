import { readFileSync } from 'node:fs';
import { buildSchema, getNamedType, isListType, isNonNullType, isObjectType, type GraphQLField } from 'graphql';
import { API_SCHEMA_PATH } from '../lib/schema';
import { eventually } from './support/eventually';
import { type GraphQLResponse, codes } from './support/http';
import { type TestStack, startTestStack } from './support/stack';

interface Page<T> {
  edges: { cursor: string; node: T }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}
interface Row { id: string; updatedAt: string }

/**
 * Lists that do not take `updatedAfter`, and why: append-only logs resumed by their own position (`after` is an event
 * id or an audit entry id), a catalog without update times, the admin's handful of connections, and the partner
 * webhook delivery log (admin, paged by delivery id; merged from the webhooks stream without the arguments).
 */
const NOT_INCREMENTAL = new Set([
  'Query.syncEvents', 'Query.statusEvents', 'Query.auditEntries', 'Query.plans', 'Query.connections', 'PartnerWebhookEndpoint.deliveries',
]);

/** A Relay-style connection type (edges + pageInfo). */
const isConnection = (type: unknown): boolean => isObjectType(type) && 'edges' in type.getFields() && 'pageInfo' in type.getFields();
const isList = (f: GraphQLField<unknown, unknown>) => {
  const t = isNonNullType(f.type) ? f.type.ofType : f.type;
  return isListType(t) || isConnection(getNamedType(f.type));
};

describe('incremental reads: updatedAfter and UPDATED_AT order on every list', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ accounts: 12 });
  });
  afterAll(() => stack.stop());

  it('gives every list of entities (root and nested) updatedAfter and orderBy in schema/api.graphql', () => {
    const schema = buildSchema(readFileSync(API_SCHEMA_PATH, 'utf8'));
    const lists: string[] = [];
    for (const type of Object.values(schema.getTypeMap())) {
      // Mutation results are what was just written, not lists to poll.
      if (!isObjectType(type) || type.name.startsWith('__') || isConnection(type) || type.name === 'Mutation') continue;
      for (const field of Object.values(type.getFields())) {
        const entity = getNamedType(field.type);
        const hasUpdatedAt = isObjectType(entity) && ('updatedAt' in entity.getFields() || isConnection(entity));
        if (!isList(field) || !hasUpdatedAt || field.args.length === 0) continue;
        const coordinate = `${type.name}.${field.name}`;
        lists.push(coordinate);
        if (NOT_INCREMENTAL.has(coordinate)) continue;
        const args = Object.fromEntries(field.args.map((a) => [a.name, String(a.type)]));
        expect({ coordinate, updatedAfter: args['updatedAfter'], orderBy: args['orderBy'] }).toEqual({ coordinate, updatedAfter: 'DateTime', orderBy: 'ListOrder' });
      }
    }
    // The walk saw the lists it must (so a schema without them cannot pass by having no lists).
    expect(lists).toEqual(expect.arrayContaining([
      'Query.accounts', 'Query.contacts', 'Query.opportunities', 'Query.invoices', 'Query.journalEntries', 'Query.billingSubscriptions',
      'Query.syncJobs', 'Account.contacts', 'Account.opportunities', 'Account.invoices', 'Account.payments', 'Account.subscriptions',
    ]));
  });

  it('pages a whole list in UPDATED_AT order, oldest first and stable across equal times, each record once', async () => {
    // Ties the hard way: every account updated within one millisecond (the API's precision), microseconds apart and
    // in an order unrelated to their ids.
    await stack.db.query(
      `UPDATE crm.accounts SET updated_at = '2026-11-30T12:00:00.000Z'::timestamptz + (abs(hashtext(id)) % 1000) * interval '1 microsecond'
       WHERE tenant_id = 'acme'`,
    );
    const seen: Row[] = [];
    let after: string | null = null;
    for (let i = 0; i < 20; i++) {
      const res: GraphQLResponse<{ accounts: Page<Row> }> = await stack.gql<{ accounts: Page<Row> }>(
        'query($after: String) { accounts(first: 5, after: $after, orderBy: UPDATED_AT) { edges { cursor node { id updatedAt } } pageInfo { hasNextPage endCursor } } }',
        { after },
      );
      expect(res.body.errors).toBeUndefined();
      const page: Page<Row> | undefined = res.body.data?.accounts;
      seen.push(...(page?.edges.map((e) => e.node) ?? []));
      if (!page?.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(seen).toHaveLength(12);
    expect(new Set(seen.map((r) => r.id)).size).toBe(12);
    const keys = seen.map((r) => `${r.updatedAt}|${r.id}`);
    expect(keys).toEqual([...keys].sort());
    expect(new Set(seen.map((r) => r.updatedAt))).toEqual(new Set(['2026-11-30T12:00:00.000Z']));
  });

  it('returns only what changed after updatedAfter, in update order, nested lists included', async () => {
    const all = await stack.gql<{ accounts: { nodes: Row[] } }>('{ accounts(first: 12) { nodes { id updatedAt } } }');
    const ids = (all.body.data?.accounts.nodes ?? []).map((n) => n.id);
    const since = new Date(Math.max(...(all.body.data?.accounts.nodes ?? []).map((n) => Date.parse(n.updatedAt)))).toISOString();
    const changed = [ids[7], ids[2], ids[9]];
    for (const id of changed) {
      const res = await stack.gql('mutation($id: ID!) { updateAccount(id: $id, input: { industry: "Incremental" }) { id } }', { id });
      expect(res.body.errors).toBeUndefined();
    }
    const res = await stack.gql<{ accounts: Page<Row> }>(
      'query($since: DateTime) { accounts(first: 10, updatedAfter: $since, orderBy: UPDATED_AT) { edges { cursor node { id updatedAt } } pageInfo { hasNextPage endCursor } } }',
      { since },
    );
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data?.accounts.edges.map((e) => e.node.id)).toEqual(changed);
    expect(res.body.data?.accounts.pageInfo.hasNextPage).toBe(false);
    // A later poll from the newest update time seen gets nothing new.
    const newest = res.body.data?.accounts.edges.at(-1)?.node.updatedAt;
    const again = await stack.gql<{ accounts: { nodes: Row[] } }>('query($since: DateTime) { accounts(updatedAfter: $since) { nodes { id } } }', { since: newest });
    expect(again.body.data?.accounts.nodes).toEqual([]);

    // Nested lists filter the same way: nothing of the account's contacts or subscriptions changed since then.
    const nested = await stack.gql<{ account: { contacts: { nodes: unknown[] }; all: { nodes: unknown[] }; subscriptions: unknown[] | null; none: unknown[] | null } }>(
      `query($id: ID!, $since: DateTime) { account(id: $id) {
        contacts(updatedAfter: $since, orderBy: UPDATED_AT) { nodes { id } } all: contacts(updatedAfter: "2000-01-01T00:00:00Z") { nodes { id } }
        subscriptions(updatedAfter: "2000-01-01T00:00:00Z", orderBy: UPDATED_AT) { id } none: subscriptions(updatedAfter: $since) { id } } }`,
      { id: ids[7], since: newest },
    );
    expect(nested.body.errors).toBeUndefined();
    expect(nested.body.data?.account.contacts.nodes).toEqual([]);
    expect(nested.body.data?.account.all.nodes.length).toBeGreaterThan(0);
    expect(nested.body.data?.account.none).toEqual([]);
  });

  it('refuses a cursor of the other order and a malformed instant with BAD_USER_INPUT', async () => {
    const byId = await stack.gql<{ accounts: Page<Row> }>('{ accounts(first: 1) { pageInfo { endCursor } } }');
    const cursor = byId.body.data?.accounts.pageInfo.endCursor;
    const mixed = await stack.gql('query($c: String) { accounts(after: $c, orderBy: UPDATED_AT) { nodes { id } } }', { c: cursor });
    expect(codes(mixed)).toEqual(['BAD_USER_INPUT']);
    const bad = await stack.gql('{ invoices(updatedAfter: "yesterday") { nodes { id } } }');
    expect(codes(bad)).toEqual(['BAD_USER_INPUT']);
    expect(bad.body.errors?.[0]?.message).toContain('updatedAfter');
  });

  it('shows syncStatus with lastSyncedAt on an invoice billing issued once sync posted it to the ERP', async () => {
    const subs = await stack.gql<{ billingSubscriptions: { nodes: { id: string; syncStatus: unknown }[] } }>(
      '{ billingSubscriptions(first: 1, filter: { statuses: [ACTIVE] }) { nodes { id syncStatus { system state lastSyncedAt } } } }',
    );
    expect(subs.body.errors).toBeUndefined();
    const sub = subs.body.data?.billingSubscriptions.nodes[0];
    // Billing on the built-in store: nothing syncs the subscription anywhere.
    expect(sub?.syncStatus).toEqual([]);
    const issued = await stack.gql<{ issueSubscriptionInvoice: { id: string } }>('mutation($s: ID!) { issueSubscriptionInvoice(subscriptionId: $s) { id } }', { s: sub?.id });
    expect(issued.body.errors).toBeUndefined();
    const invoiceId = issued.body.data?.issueSubscriptionInvoice.id;
    const status = await eventually(async () => {
      const res = await stack.gql<{ invoice: { syncStatus: { system: string; state: string; lastSyncedAt: string | null }[] } | null }>(
        'query($id: ID!) { invoice(id: $id) { syncStatus { system state lastSyncedAt } } }', { id: invoiceId },
      );
      const s = res.body.data?.invoice?.syncStatus;
      return s?.[0]?.state === 'IN_SYNC' ? s : null;
    });
    expect(status).toEqual([{ system: 'ERP', state: 'IN_SYNC', lastSyncedAt: expect.stringMatching(/^\d{4}-/) }]);
    // A finance partner without sync:read sees the invoice, and syncStatus null with FORBIDDEN.
    const token = await stack.token({ kind: 'partner', sub: 'finance-partner', scopes: ['finance:read'] });
    const partner = await stack.gql<{ invoice: { number: string; syncStatus: unknown } }>('query($id: ID!) { invoice(id: $id) { number syncStatus { state } } }', { id: invoiceId }, { token });
    expect(typeof partner.body.data?.invoice.number).toBe('string');
    expect(partner.body.data?.invoice.syncStatus).toBeNull();
    expect(partner.body.errors?.map((e) => [e.extensions?.['code'], e.path?.join('.')])).toEqual([['FORBIDDEN', 'invoice.syncStatus']]);
  });
});
