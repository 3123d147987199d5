import { readFileSync } from 'node:fs';
import { Kind, type OperationDefinitionNode, buildSchema, parse } from 'graphql';
import { DEFAULT_MUTATION_WEIGHT, operationCost } from '../gateway/cost';
import { costModel } from '../gateway/cost-model';
import { API_SCHEMA_PATH, readSupergraph } from '../lib/schema';
import { codes, postGraphQL } from './support/http';
import { ACCOUNT_360 } from './support/queries';
import { type TestStack, startTestStack } from './support/stack';

const schema = buildSchema(readFileSync(API_SCHEMA_PATH, 'utf8'));
const model = costModel(readSupergraph());

function cost(query: string, variables: Record<string, unknown> = {}, m = model, s = schema): number {
  const document = parse(query);
  const operation = document.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  if (!operation) throw new Error('no operation');
  return operationCost(s, document, operation, variables, m);
}

/** Issue 17 item 5: @cost and @listSize from the composed supergraph decide the estimate. */
describe('per-field cost from @cost and @listSize', () => {
  it('costs an account 360 of 20 accounts as the records the subgraphs return for it', () => {
    // Objects cost 1, scalars, Money, ExternalRef and connection wrappers 0; pages by `first`, lists by assumedSize:
    // 20 accounts + 20 x (5 contacts + 5 opportunities + 5 invoices x (1 + 1 subscription) + 5 payments
    //   + 3 subscriptions x (1 + 3 items x (1 + 1 plan)) + 3 sync statuses) = 20 + 20 x 49 = 1000.
    expect(cost(ACCOUNT_360, { first: 20 })).toBe(1000);
    // The unannotated estimate (one point per field, ten per unknown list) counted 6100 for the same operation.
    expect(cost(ACCOUNT_360, { first: 20 }, costModel('scalar None'))).toBe(6100);
  });

  it('sizes a connection by its slicing argument as sent, by variable, or by the schema default', () => {
    expect(cost('{ accounts(first: 7) { nodes { id } } }')).toBe(7);
    expect(cost('query($n: Int!) { accounts(first: $n) { nodes { id } } }', { n: 9 })).toBe(9);
    expect(cost('query($n: Int = 11) { accounts(first: $n) { nodes { id } } }')).toBe(11);
    // No `first`: the schema's default page (20).
    expect(cost('{ accounts { nodes { id } } }')).toBe(20);
    // sizedFields: both lists of the connection count the page.
    expect(cost('{ accounts(first: 3) { nodes { id } edges { node { id } } pageInfo { hasNextPage } } }')).toBe(3 + 3);
  });

  it('counts a plain list by its assumed size, value types at their weight 0, and mutations at 10', () => {
    expect(cost('{ account(id: "a") { subscriptions { id } } }')).toBe(1 + 3);
    expect(cost('{ account(id: "a") { balance { amountMinor } externalIds { system } } }')).toBe(1);
    expect(cost('mutation { createAccount(input: { name: "x" }) { id } }')).toBe(DEFAULT_MUTATION_WEIGHT);
    // Never below 1: every operation costs the gateway something.
    expect(cost('{ __typename }')).toBe(1);
  });

  it('applies @cost on fields, types and arguments of any SDL', () => {
    const sdl = `
      directive @cost(weight: Int!) on ARGUMENT_DEFINITION | ENUM | FIELD_DEFINITION | INPUT_FIELD_DEFINITION | OBJECT | SCALAR
      directive @listSize(assumedSize: Int, slicingArguments: [String!], sizedFields: [String!], requireOneSlicingArgument: Boolean = true) on FIELD_DEFINITION
      type Query {
        search(text: String @cost(weight: 40), limit: Int, max: Int): [Hit!]! @cost(weight: 5) @listSize(slicingArguments: ["limit", "max"], assumedSize: 50)
        report: Report
      }
      type Hit { id: ID! score: Float @cost(weight: 2) }
      type Report @cost(weight: 100) { id: ID! }
    `;
    const s = buildSchema(sdl);
    const m = costModel(sdl);
    // 40 for the argument + 4 (the larger slicing argument) x (5 for the field + 2 for score).
    expect(cost('{ search(text: "a", limit: 3, max: 4) { id score } }', {}, m, s)).toBe(40 + 4 * (5 + 2));
    // Neither slicing argument sent: the assumed size.
    expect(cost('{ search { id } }', {}, m, s)).toBe(50 * 5);
    expect(cost('{ report { id } }', {}, m, s)).toBe(100);
  });
});

describe('cost modes over HTTP', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ accounts: 2, env: { COST_MODE: 'measure', RATE_LIMITS: JSON.stringify({ maxOperationCost: 50 }) } });
  });
  afterAll(async () => {
    await stack.stop();
  });

  it('measure mode answers an operation above the maximum and reports its cost in extensions', async () => {
    const res = await stack.gql('{ accounts(first: 60) { nodes { id } } }');
    expect(res.status).toBe(200);
    expect(res.body.errors).toBeUndefined();
    expect(res.body.extensions?.['cost']).toEqual({ estimated: 60, maxCost: 50, mode: 'measure' });
  });

  it('enforce mode (the default) refuses the same operation', async () => {
    const enforcing = await startTestStack({ accounts: 1, env: { RATE_LIMITS: JSON.stringify({ maxOperationCost: 50 }) } });
    try {
      const res = await enforcing.gql('{ accounts(first: 60) { nodes { id } } }');
      expect(res.status).toBe(400);
      expect(codes(res)).toEqual(['COST_LIMIT_EXCEEDED']);
      expect(res.body.errors?.[0]?.extensions?.['cost']).toBe(60);
      expect((await enforcing.gql('{ accounts(first: 50) { nodes { id } } }')).status).toBe(200);
    } finally {
      await enforcing.stop();
    }
  });
});
