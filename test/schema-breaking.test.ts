import { buildSchema } from 'graphql';
import { disallowedBreakingChanges } from '../lib/schema-breaking';

/** The deprecation policy on small schemas: each case is a release followed by the next version of the schema. */
async function disallowed(released: string, next: string): Promise<string[]> {
  const changes = await disallowedBreakingChanges(buildSchema(released), buildSchema(next));
  return changes.map((c) => c.path ?? c.message);
}

const base = (members: string) => `type Query { account: Account }\ntype Account {\n  id: ID!\n${members}\n}`;

describe('breaking-change policy', () => {
  it('fails a field removal that was not deprecated', async () => {
    expect(await disallowed(base('name: String'), base(''))).toEqual(['Account.name']);
  });

  it('passes a field removal that was deprecated with a reason in the release', async () => {
    expect(await disallowed(base('name: String @deprecated(reason: "Use displayName.")'), base(''))).toEqual([]);
  });

  it('fails a removal deprecated without a reason (a bare @deprecated)', async () => {
    expect(await disallowed(base('name: String @deprecated'), base(''))).toEqual(['Account.name']);
  });

  it('fails a type change of a field unless the field was deprecated', async () => {
    expect(await disallowed(base('size: Int'), base('size: String'))).toEqual(['Account.size']);
    expect(await disallowed(base('size: Int @deprecated(reason: "Use headcount.")'), base('size: String'))).toEqual([]);
  });

  it('applies to arguments, input fields and enum values', async () => {
    const release = `
      type Query { accounts(filter: Filter, legacy: Boolean @deprecated(reason: "Ignored."), region: String): [ID!] }
      input Filter { name: String @deprecated(reason: "Use q."), q: String, domain: String }
      enum Tier { GOLD SILVER @deprecated(reason: "Merged into GOLD.") BRONZE }
      type Mutation { setTier(tier: Tier!): Tier }`;
    const next = `
      type Query { accounts(filter: Filter): [ID!] }
      input Filter { q: String }
      enum Tier { GOLD }
      type Mutation { setTier(tier: Tier!): Tier }`;
    expect((await disallowed(release, next)).sort()).toEqual(['Filter.domain', 'Query.accounts.region', 'Tier.BRONZE']);
  });

  it('passes the removal of a type whose every use was deprecated, fails it while one use was not', async () => {
    const withLegacy = (use: string) => `type Query { account: ID ${use} }\ntype Legacy { id: ID }`;
    const next = 'type Query { account: ID }';
    expect(await disallowed(withLegacy('legacy: Legacy @deprecated(reason: "Gone in v2.")'), next)).toEqual([]);
    expect(await disallowed(withLegacy('legacy: Legacy'), next)).toEqual(expect.arrayContaining(['Legacy', 'Query.legacy']));
  });

  it('lets additions and deprecations through', async () => {
    expect(await disallowed(base('name: String'), base('name: String @deprecated(reason: "Use displayName.")\n  displayName: String'))).toEqual([]);
  });
});
