import { buildSchema, operationFromDocument } from '@apollo/federation-internals';
import { parse } from 'graphql';
import { apolloComputeResponse, computeResponse } from '../gateway/response-shaping';

/**
 * gateway/response-shaping.ts replaces @apollo/gateway's result shaping with a compiled one: on the same operation,
 * variables and merged subgraph data, both must give the same data (key order included, as the client gets it) and
 * the same errors (message and path), null bubbling and `@skip`/`@include` alike.
 */
const schema = buildSchema(`
  type Query { account(id: ID!): Account accounts(first: Int): [Account!]! node(id: ID!): Node search: [Result!] }
  interface Node { id: ID! }
  type Account implements Node { id: ID! name: String! owner: String stage: Stage contacts: [Contact!] balance: Money }
  type Contact implements Node { id: ID! email: String! account: Account! }
  type Money { amountMinor: String! currency: String! }
  enum Stage { LEAD CUSTOMER }
  union Result = Account | Contact
`);

function both(query: string, input: Record<string, unknown> | null, variables: Record<string, unknown> = {}) {
  const operation = operationFromDocument(schema, parse(query), { validate: false });
  const run = (fn: typeof computeResponse) => {
    try {
      const { data, errors } = fn({ operation, variables, input: structuredClone(input), introspectionHandling: () => ({ introspected: true }) });
      return { data: JSON.stringify(data), errors: errors.map((e) => ({ message: e.message, path: e.path })) };
    } catch (err) {
      return { thrown: err instanceof Error ? err.message : String(err) };
    }
  };
  return { ours: run(computeResponse), apollo: run(apolloComputeResponse) };
}

const account = (id: string, extra: Record<string, unknown> = {}) => ({
  __typename: 'Account', id, name: `Account ${id}`, owner: null, stage: 'LEAD', contacts: [{ __typename: 'Contact', id: `${id}-c`, email: `${id}@x.test`, extra: 1 }],
  balance: { amountMinor: '100', currency: 'EUR' }, notAsked: true, ...extra,
});

const CASES: { name: string; query: string; input: Record<string, unknown> | null; variables?: Record<string, unknown> }[] = [
  { name: 'fields, aliases, nested lists, extra input fields dropped', query: '{ a: account(id: "1") { id n: name owner stage contacts { id email } balance { amountMinor currency } } }', input: { a: account('1', { n: 'Account 1' }) } },
  { name: 'list of accounts in input order', query: '{ accounts(first: 3) { id name contacts { email } } }', input: { accounts: [account('1'), account('2'), account('3')] } },
  { name: 'null for a non-null field bubbles to the nullable parent', query: '{ account(id: "1") { id name contacts { id email } } }', input: { account: account('1', { contacts: [{ __typename: 'Contact', id: 'c', email: null }] }) } },
  { name: 'null in a non-null list item nulls the list', query: '{ accounts { id name } }', input: { accounts: [account('1'), account('2', { name: null })] } },
  { name: 'bubbling to the root nulls data', query: '{ accounts { id } }', input: { accounts: null } },
  { name: 'invalid enum value', query: '{ account(id: "1") { id stage } }', input: { account: account('1', { stage: 'NOPE' }) } },
  { name: 'invalid __typename', query: '{ account(id: "1") { id name } }', input: { account: account('1', { __typename: 'Nothing' }) } },
  { name: '__typename asked, aliased, and from the parent type', query: '{ account(id: "1") { __typename t: __typename id } }', input: { account: { id: '1' } } },
  { name: 'interface with inline fragments', query: '{ node(id: "1") { __typename id ... on Account { name } ... on Contact { email } } }', input: { node: { __typename: 'Contact', id: '1', email: 'e@x.test', name: 'not for a contact' } } },
  { name: 'union with named fragments', query: 'query { search { ...A ...C } } fragment A on Account { id name } fragment C on Contact { id email }', input: { search: [account('1'), { __typename: 'Contact', id: '2', email: 'x@y.z' }] } },
  { name: '@skip and @include by variables and literals', query: 'query($s: Boolean!, $i: Boolean!) { account(id: "1") { id name @skip(if: $s) owner @include(if: $i) stage @include(if: false) ... on Account @skip(if: true) { balance { currency } } } }', input: { account: account('1') }, variables: { s: true, i: true } },
  { name: '@skip by a variable left at its default', query: 'query($s: Boolean = false) { account(id: "1") { id name @skip(if: $s) } }', input: { account: account('1') } },
  { name: '@include without its variable is refused', query: 'query($i: Boolean) { account(id: "1") { id name @include(if: $i) } }', input: { account: account('1') } },
  { name: 'missing input yields nulls for nullable fields', query: '{ account(id: "1") { id name owner balance { currency } } }', input: { account: { __typename: 'Account', id: '1', name: 'n' } } },
  { name: 'introspection field', query: '{ __typename account(id: "1") { id } }', input: { account: account('1') } },
  { name: 'no data', query: '{ account(id: "1") { id } }', input: null },
];

describe('compiled response shaping', () => {
  it.each(CASES)('gives what @apollo/gateway gives: $name', ({ query, input, variables }) => {
    const { ours, apollo } = both(query, input, variables);
    expect(ours).toEqual(apollo);
  });

  it('is what @apollo/gateway runs once this module is loaded', () => {
    const shaping = require('@apollo/gateway/dist/resultShaping') as { computeResponse: unknown };
    expect(shaping.computeResponse).toBe(computeResponse);
    expect(apolloComputeResponse).not.toBe(computeResponse);
  });

  it('reuses the compiled steps of an operation across answers without mixing their data', () => {
    const operation = operationFromDocument(schema, parse('{ accounts { id name } }'), { validate: false });
    const shape = (ids: string[]) => JSON.stringify(computeResponse({ operation, input: { accounts: ids.map((id) => account(id)) }, introspectionHandling: () => null }).data);
    expect(shape(['1', '2'])).toBe('{"accounts":[{"id":"1","name":"Account 1"},{"id":"2","name":"Account 2"}]}');
    expect(shape(['3'])).toBe('{"accounts":[{"id":"3","name":"Account 3"}]}');
  });
});
