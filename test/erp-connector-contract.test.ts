import { directOutbound } from '../lib/connectors/outbound';
import { OdooFake } from '../fakes/odoo/server';
import { OdooErpRemote } from '../subgraphs/erp/connector/odoo/adapter';
import { erpReferenceStore } from '../subgraphs/erp/connector/reference-store';
import { migrateAll } from '../subgraphs/registry';
import { remoteErp } from '../subgraphs/sync/remote/erp';
import { remoteLinks } from '../subgraphs/sync/remote/links';
import { erpConnectorContract } from './contracts/erp-connector.contract';
import { type TestDatabase, freshDatabase } from './support/postgres';

/** Issue 13: the ERP port behaves the same on the reference store and on the mirror + Odoo (fake over JSON-RPC). */
async function migrated(): Promise<TestDatabase> {
  const database = await freshDatabase();
  await migrateAll(database.db);
  return database;
}

erpConnectorContract('reference store (Postgres)', async () => {
  const database = await migrated();
  return { erp: erpReferenceStore(database.db, 'contract'), close: () => database.drop() };
});

let fake: OdooFake;
erpConnectorContract('mirror + Odoo adapter against the Odoo fake', async () => {
  const database = await migrated();
  fake = new OdooFake({ db: 'contract', login: 'api@contract.example', apiKey: 'key-1' });
  const url = await fake.start();
  await database.db.query("INSERT INTO sync.connections (id, tenant_id, system, adapter) VALUES ('conn_contract', 'contract', 'ERP', 'odoo')");
  const vendor = new OdooErpRemote({ credentials: { apiKey: 'key-1' }, settings: { url, db: 'contract', login: 'api@contract.example' }, outbound: directOutbound });
  return {
    erp: remoteErp(erpReferenceStore(database.db, 'contract'), vendor, remoteLinks(database.db, 'contract', 'conn_contract')),
    close: async () => {
      await fake.stop();
      await database.drop();
    },
  };
});

describe('the Odoo run of the ERP port contract wrote to Odoo', () => {
  it('one partner per customer, posted moves balanced, cancelled ones cancelled', () => {
    const partners = fake.rows('res.partner').filter((p) => String(p['ref'] ?? '').startsWith('acc_'));
    expect(new Set(partners.map((p) => p['ref'])).size).toBe(partners.length);
    expect(partners.length).toBeGreaterThanOrEqual(6);
    const moves = fake.rows('account.move').filter((m) => m['move_type'] === 'out_invoice');
    expect(moves.some((m) => m['state'] === 'posted')).toBe(true);
    expect(moves.some((m) => m['state'] === 'cancel')).toBe(true);
  });
});
