import type { Queryable } from '../../lib/db/db';
import { insertRows } from '../../lib/seed/insert';
import { type SeedAccount, type SeedLink, rng, seededId } from '../../lib/seed/random';

const PREFIXES = ['Acme', 'Globex', 'Initech', 'Umbrella', 'Stark', 'Wayne', 'Hooli', 'Vandelay', 'Soylent', 'Tyrell', 'Cyberdyne', 'Wonka'];
const SUFFIXES = ['Labs', 'Systems', 'Holdings', 'Analytics', 'Logistics', 'Health', 'Foods', 'Robotics', 'Media', 'Energy'];
const INDUSTRIES = ['Software', 'Manufacturing', 'Healthcare', 'Retail', 'Logistics', 'Finance', 'Energy', 'Media'];
const STAGES = ['LEAD', 'PROSPECT', 'CUSTOMER', 'CUSTOMER', 'CUSTOMER', 'CHURNED'] as const;
const FIRST = ['Ada', 'Grace', 'Linus', 'Margaret', 'Alan', 'Barbara', 'Dennis', 'Frances', 'Ken', 'Radia', 'Tim', 'Hedy'];
const LAST = ['Lovelace', 'Hopper', 'Torvalds', 'Hamilton', 'Turing', 'Liskov', 'Ritchie', 'Allen', 'Thompson', 'Perlman'];
const TITLES = ['CFO', 'Controller', 'VP Finance', 'Head of IT', 'Procurement Lead', 'CEO'];
const OPP_STAGES = ['PROSPECTING', 'QUALIFICATION', 'PROPOSAL', 'NEGOTIATION', 'CLOSED_WON', 'CLOSED_LOST'] as const;
const CITIES = [['Berlin', 'DE', 'EUR'], ['Paris', 'FR', 'EUR'], ['Austin', 'US', 'USD'], ['Boston', 'US', 'USD'], ['Denver', 'US', 'USD']] as const;
const PLANS = ['starter', 'growth', 'enterprise'];

/** Seeds `count` CRM accounts with contacts and opportunities for one tenant; returns them for the other systems. */
export async function seedCrm(db: Queryable, tenant: string, count: number): Promise<SeedAccount[]> {
  const accounts: SeedAccount[] = [];
  const accountRows: unknown[][] = [];
  const contactRows: unknown[][] = [];
  const oppRows: unknown[][] = [];
  const base = Date.UTC(2025, 0, 1);
  for (let i = 0; i < count; i++) {
    const r = rng(`crm|${tenant}|${i}`);
    const id = seededId('acc', tenant, i);
    const name = `${r.pick(PREFIXES)} ${r.pick(SUFFIXES)} ${i + 1}`;
    const [city, country, currency] = r.pick(CITIES);
    const createdAt = new Date(base + i * 3_600_000).toISOString();
    const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, '-');
    accounts.push({ tenant, index: i, id, name, currency, createdAt });
    accountRows.push([
      id, tenant, `crm-acc-${tenant}-${i}`, name, `${slug}.example.com`, r.pick(INDUSTRIES), r.pick(STAGES),
      JSON.stringify({ line1: `${r.int(1, 999)} Main Street`, line2: null, city, region: null, postalCode: String(r.int(10000, 99999)), country }),
      `${r.pick(FIRST).toLowerCase()}@${tenant}.example.com`, createdAt, createdAt,
    ]);
    const contacts = r.int(1, 4);
    for (let c = 0; c < contacts; c++) {
      const first = r.pick(FIRST);
      const last = r.pick(LAST);
      contactRows.push([
        seededId('con', tenant, i, c), tenant, id, `crm-con-${tenant}-${i}-${c}`, first, last,
        `${first}.${last}.${c}@${slug}.example.com`.toLowerCase(), `+1-555-${String(r.int(1000, 9999))}`, r.pick(TITLES), createdAt, createdAt,
      ]);
    }
    const opps = r.int(0, 3);
    for (let o = 0; o < opps; o++) {
      oppRows.push([
        seededId('opp', tenant, i, o), tenant, id, `crm-opp-${tenant}-${i}-${o}`, `${name} - ${r.pick(PLANS)} deal`, r.pick(OPP_STAGES),
        String(r.int(10, 500) * 10_000), currency, new Date(base + (i + 90) * 86_400_000).toISOString().slice(0, 10), r.pick(PLANS), createdAt, createdAt,
      ]);
    }
  }
  await insertRows(db, 'crm.accounts', ['id', 'tenant_id', 'remote_id', 'name', 'domain', 'industry', 'lifecycle_stage', 'billing_address', 'owner', 'created_at', 'updated_at'], accountRows);
  await insertRows(db, 'crm.contacts', ['id', 'tenant_id', 'account_id', 'remote_id', 'first_name', 'last_name', 'email', 'phone', 'title', 'created_at', 'updated_at'], contactRows);
  await insertRows(db, 'crm.opportunities', ['id', 'tenant_id', 'account_id', 'remote_id', 'name', 'stage', 'amount_minor', 'currency', 'close_date', 'plan_code', 'created_at', 'updated_at'], oppRows);
  return accounts;
}

/** Seeded accounts carry the ids the other systems' seeds gave them (`externalIds`), in one statement. */
export async function seedExternalIds(db: Queryable, tenant: string, links: readonly SeedLink[]): Promise<void> {
  await db.query(
    `INSERT INTO crm.external_ids (tenant_id, entity_id, system, remote_id, remote_updated_at)
     SELECT $1, l.entity_id, l.system, l.remote_id, l.updated_at
     FROM unnest($2::text[], $3::text[], $4::text[], $5::timestamptz[]) AS l (entity_id, system, remote_id, updated_at)
     ON CONFLICT DO NOTHING`,
    [tenant, links.map((l) => l.accountId), links.map((l) => l.system), links.map((l) => l.remoteId), links.map((l) => l.updatedAt)],
  );
}
