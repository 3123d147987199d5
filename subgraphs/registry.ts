import type { Config } from '../lib/config';
import { keyRingFromEnv } from '../lib/connectors/secret-box';
import type { Db, Queryable } from '../lib/db/db';
import type { Logger } from '../lib/logger';
import { migrate } from '../lib/db/migrate';
import type { SubgraphName } from '../lib/schema';
import type { SeedAccount } from '../lib/seed/random';
import { BILLING_MIGRATIONS, billingSubgraph } from './billing';
import { seedBilling, seedBillingCatalog } from './billing/seed';
import { CRM_MIGRATIONS, crmSubgraph } from './crm';
import { seedCrm, seedExternalIds } from './crm/seed';
import { ERP_MIGRATIONS, erpSubgraph } from './erp';
import { seedErp } from './erp/seed';
import type { RequestBase, SubgraphDefinition } from './runtime/server';
import { SYNC_MIGRATIONS, syncSubgraph } from './sync';
import type { SyncDeps } from './sync/context';
import { type ConnectionRuntime, connectionRuntime } from './sync/connections/runtime';
import { connectionStore } from './sync/connections/store';
import { seedLedgerLinks } from './sync/ledger/store';
import { type PartnerWebhookRuntime, partnerWebhookRuntime } from './sync/partner-webhooks/runtime';
import { partnerWebhookSettings } from './sync/partner-webhooks/settings';

/** Migrations per system, in the order they must run (sync first: system writes enqueue into its outbox). */
export const MIGRATIONS: readonly { system: SubgraphName; dir: string }[] = [
  { system: 'sync', dir: SYNC_MIGRATIONS },
  { system: 'crm', dir: CRM_MIGRATIONS },
  { system: 'erp', dir: ERP_MIGRATIONS },
  { system: 'billing', dir: BILLING_MIGRATIONS },
];

/** Runs every system's migrations in order (each is advisory-locked and idempotent). */
export async function migrateAll(db: Db): Promise<void> {
  for (const m of MIGRATIONS) await migrate(db, m.system, m.dir);
}

/**
 * Each process's view of the tenants' connections (which adapter serves which tenant's system, with what credentials):
 * what the registry builds a tenant's ports from. Fails fast without CONNECTOR_KEYS in production.
 */
export function connectionsFromConfig(db: Db, config: Config, logger: Logger): ConnectionRuntime {
  return connectionRuntime(connectionStore(db, keyRingFromEnv(config.connectorKeys, config.production)), logger);
}

/** Webhooks to partners: settings from PARTNER_WEBHOOKS (fails fast when invalid), secrets sealed like credentials. */
export function partnerWebhooksFromConfig(db: Db, config: Config): PartnerWebhookRuntime {
  return partnerWebhookRuntime(db, keyRingFromEnv(config.connectorKeys, config.production), partnerWebhookSettings(config.partnerWebhooks, config.production));
}

function erase<C extends RequestBase>(definition: SubgraphDefinition<C>): SubgraphDefinition<RequestBase> {
  // Contexts differ per subgraph; the runtime only needs the shared base, so the registry erases the detail.
  return definition as unknown as SubgraphDefinition<RequestBase>;
}

/** Every subgraph, by name: the one list the stack and the entry points walk. */
export function subgraphDefinitions(sync: SyncDeps): Record<SubgraphName, SubgraphDefinition<RequestBase>> {
  return { crm: erase(crmSubgraph), erp: erase(erpSubgraph), billing: erase(billingSubgraph), sync: erase(syncSubgraph(sync)) };
}

/**
 * Seeds one tenant across all systems so the account 360 has data from each. Each system's seed writes only its own
 * tables; the registry hands the ids the ERP and billing seeds gave each account to the CRM (externalIds) and to the
 * ledger (IN_SYNC links), so seeded systems start in sync without reading each other's tables.
 */
export async function seedTenant(db: Queryable, tenant: string, accounts: number): Promise<SeedAccount[]> {
  const seeded = await seedCrm(db, tenant, accounts);
  const erpLinks = await seedErp(db, seeded);
  await seedBillingCatalog(db, tenant);
  const links = [...erpLinks, ...(await seedBilling(db, seeded))];
  await seedExternalIds(db, tenant, links);
  await seedLedgerLinks(db, tenant, links);
  return seeded;
}
