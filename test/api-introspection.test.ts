import { readFileSync } from 'node:fs';
import { type IntrospectionQuery, buildClientSchema, getIntrospectionQuery, lexicographicSortSchema, printSchema } from 'graphql';
import { API_SCHEMA_PATH } from '../lib/schema';
import { type TestStack, startTestStack } from './support/stack';

describe('introspection over HTTP', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ accounts: 1 });
  });
  afterAll(() => stack.stop());

  it('returns the published client schema, subscriptions included (schema/api.graphql)', async () => {
    const res = await stack.gql<IntrospectionQuery>(getIntrospectionQuery({ inputValueDeprecation: true }));
    expect(res.body.errors).toBeUndefined();
    const introspected = buildClientSchema(res.body.data as IntrospectionQuery);
    expect(introspected.getSubscriptionType()?.name).toBe('Subscription');
    expect(`${printSchema(lexicographicSortSchema(introspected))}\n`).toBe(readFileSync(API_SCHEMA_PATH, 'utf8'));
  });

  it('still answers queries that mix data and __typename from the gateway', async () => {
    const res = await stack.gql<{ __typename: string; accounts: unknown }>('{ __typename accounts(first: 1) { nodes { id } } }');
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data?.__typename).toBe('Query');
  });
});
