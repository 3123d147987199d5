import { startStripeFake, type StripeFake } from '../fakes/stripe/server';
import { directOutbound } from '../lib/connectors/outbound';
import { billingReferenceStore } from '../subgraphs/billing/connector/reference-store';
import { stripeBillingRemote } from '../subgraphs/billing/connector/stripe';
import { seedBillingCatalog } from '../subgraphs/billing/seed';
import { migrateAll } from '../subgraphs/registry';
import { remoteBilling } from '../subgraphs/sync/remote/billing';
import { remoteLinks } from '../subgraphs/sync/remote/links';
import { billingConnectorContract } from './contracts/billing-connector.contract';
import { type TestDatabase, freshDatabase } from './support/postgres';

/** A fresh database with the billing catalog of tenant `contract` seeded: what both ports run on. */
async function catalogDatabase(): Promise<TestDatabase> {
  const database = await freshDatabase();
  await migrateAll(database.db);
  await seedBillingCatalog(database.db, 'contract');
  return database;
}

billingConnectorContract('reference store (Postgres)', async () => {
  const database = await catalogDatabase();
  return { billing: billingReferenceStore(database.db, 'contract'), close: () => database.drop() };
});

let fake: StripeFake;
let stripeAccount: string;
billingConnectorContract('mirror + Stripe adapter against the Stripe fake', async () => {
  const database = await catalogDatabase();
  fake = await startStripeFake();
  const { accountId, secretKey } = fake.addAccount();
  stripeAccount = accountId;
  await database.db.query("INSERT INTO sync.connections (id, tenant_id, system, adapter) VALUES ('conn_contract', 'contract', 'BILLING', 'stripe')");
  const vendor = stripeBillingRemote({ secretKey, apiBase: fake.url, outbound: directOutbound });
  const { billing } = remoteBilling(billingReferenceStore(database.db, 'contract'), vendor, remoteLinks(database.db, 'contract', 'conn_contract'), async () => undefined);
  return {
    billing,
    close: async () => {
      await fake.close();
      await database.drop();
    },
  };
});

describe('the Stripe run of the billing port contract wrote to Stripe', () => {
  it('every subscription the contract created exists once at Stripe, cancellations included, each write with its own key', () => {
    const store = fake.account(stripeAccount);
    const subs = [...store.subscriptions.values()];
    expect(subs.length).toBeGreaterThanOrEqual(7);
    const canonical = subs.map((s) => s.metadata?.['canonicalId']);
    expect(new Set(canonical).size).toBe(subs.length);
    expect(subs.filter((s) => s.status === 'canceled').length).toBeGreaterThanOrEqual(3);
    expect(subs.some((s) => s.cancel_at_period_end)).toBe(true);
    // Every POST carries a key (a cancel is a DELETE, which Stripe takes without one) and no two share one.
    const posts = fake.writes().filter((w) => w.method === 'POST');
    expect(posts.every((w) => w.idempotencyKey !== null)).toBe(true);
    expect(new Set(posts.map((w) => w.idempotencyKey)).size).toBe(posts.length);
  });
});
