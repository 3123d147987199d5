import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { buildSchema, printSchema, validateSchema } from 'graphql';
import { loadConfig } from 'graphql-config';
import { printClientSchema } from '../gateway/api-schema';
import { composeSupergraph } from '../lib/compose';
import { API_SCHEMA_PATH, RELEASED_API_SCHEMA_PATH, readSupergraph } from '../lib/schema';
import { disallowedBreakingChanges } from '../lib/schema-breaking';

describe('schema', () => {
  it('composes without errors and the checked-in supergraph is up to date (run `npm run compose`)', () => {
    expect(readSupergraph()).toBe(composeSupergraph());
  });

  it('the checked-in client schema schema/api.graphql is up to date (run `npm run compose`)', () => {
    expect(readFileSync(API_SCHEMA_PATH, 'utf8')).toBe(`${printClientSchema()}\n`);
  });

  it('the client schema is valid and carries the subscriptions from schema/subscriptions.graphql', () => {
    const api = buildSchema(readFileSync(API_SCHEMA_PATH, 'utf8'));
    expect(validateSchema(api)).toEqual([]);
    const subscriptionFields = Object.keys(api.getSubscriptionType()?.getFields() ?? {}).sort();
    expect(subscriptionFields).toEqual(['invoiceStatusChanged', 'subscriptionStatusChanged', 'syncStatusChanged']);
    // Payload types reach into federated types, so a renamed subgraph type fails here, not at gateway start.
    expect(printSchema(api)).toMatch(/type SyncStatusChange \{[^}]*account: Account\n/);
  });

  it('editors and codegen load the client schema, subscriptions included, through graphql.config.yml', async () => {
    const config = await loadConfig({ rootDir: `${__dirname}/..`, throwOnMissing: true });
    const schema = await config?.getDefault().getSchema();
    expect(Object.keys(schema?.getSubscriptionType()?.getFields() ?? {})).toContain('syncStatusChanged');
  });

  it('has no breaking change against the released schema without a deprecation period (schema/released/api.graphql)', async () => {
    const released = buildSchema(readFileSync(RELEASED_API_SCHEMA_PATH, 'utf8'));
    const current = buildSchema(readFileSync(API_SCHEMA_PATH, 'utf8'));
    const breaking = await disallowedBreakingChanges(released, current);
    // The messages name each element; deprecate it with a reason first (README, "Schema releases and deprecation").
    expect(breaking.map((c) => c.message)).toEqual([]);
  });

  it('generated resolver types match the schema (run `npm run codegen`)', () => {
    // `--check` exits non-zero when a generated file would change.
    expect(() => execFileSync('npx', ['graphql-codegen', '--config', 'codegen.ts', '--check'], { cwd: `${__dirname}/..`, stdio: 'pipe' })).not.toThrow();
  });
});
