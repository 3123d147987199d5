import type { Queryable } from '../lib/db/db';
import type { SubgraphName } from '../lib/schema';
import type { SeedAccount } from '../lib/seed/random';
import { BILLING_MIGRATIONS, billingSubgraph } from './billing';
import { seedBilling, seedBillingCatalog } from './billing/seed';
import { CRM_MIGRATIONS, crmSubgraph } from './crm';
import { seedCrm } from './crm/seed';
import { ERP_MIGRATIONS, erpSubgraph } from './erp';
import { seedErp } from './erp/seed';
import type { RequestBase, SubgraphDefinition } from './runtime/server';

export interface SubgraphModule {
  definition: SubgraphDefinition<RequestBase>;
  migrations: string;
}

function module<C extends RequestBase>(definition: SubgraphDefinition<C>, migrations: string): SubgraphModule {
  // Contexts differ per subgraph; the runtime only needs the shared base, so the registry erases the detail.
  return { definition: definition as unknown as SubgraphDefinition<RequestBase>, migrations };
}

/** Every system subgraph, by name: the one list the stack, migrations and seeding walk. */
export const SUBGRAPHS: Record<SubgraphName, SubgraphModule> = {
  crm: module(crmSubgraph, CRM_MIGRATIONS),
  erp: module(erpSubgraph, ERP_MIGRATIONS),
  billing: module(billingSubgraph, BILLING_MIGRATIONS),
};

/** Seeds one tenant across all systems so the account 360 has data from each. */
export async function seedTenant(db: Queryable, tenant: string, accounts: number): Promise<SeedAccount[]> {
  const seeded = await seedCrm(db, tenant, accounts);
  await seedErp(db, seeded);
  await seedBillingCatalog(db, tenant);
  await seedBilling(db, seeded);
  return seeded;
}
