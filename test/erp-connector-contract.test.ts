import { directOutbound } from '../lib/connectors/outbound';
import { OdooFake } from '../fakes/odoo/server';
import { OdooErpRemote } from '../subgraphs/erp/connector/odoo/adapter';
import { erpReferenceStore } from '../subgraphs/erp/connector/reference-store';
import { migrateAll } from '../subgraphs/registry';
import { remoteErp } from '../subgraphs/sync/remote/erp';
import { remoteLinks } from '../subgraphs/sync/remote/links';
import { TransientError } from '../subgraphs/sync/engine/errors';
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

describe('two jobs writing one account to Odoo at once', () => {
  it('make one partner: the second finds the first writing (VENDOR_WRITE_IN_PROGRESS), and after its retry the link the first made', async () => {
    const database = await migrated();
    const odoo = new OdooFake({ db: 'race', login: 'api@race.example', apiKey: 'key-2' });
    const url = await odoo.start();
    try {
      await database.db.query("INSERT INTO sync.connections (id, tenant_id, system, adapter) VALUES ('conn_race', 'race', 'ERP', 'odoo')");
      // Two workers: each its own adapter and port over the one database.
      const worker = () => remoteErp(
        erpReferenceStore(database.db, 'race'),
        new OdooErpRemote({ credentials: { apiKey: 'key-2' }, settings: { url, db: 'race', login: 'api@race.example' }, outbound: directOutbound }),
        remoteLinks(database.db, 'race', 'conn_race'),
      );
      await erpReferenceStore(database.db, 'race').upsertCustomer({ id: 'acc_race', name: 'Race Co', currency: 'USD' });
      // Every Odoo call slowed, so both writes are at Odoo at once (as a job and an API write can be).
      odoo.faults.latencyMs = 150;
      let conflicts = 0;
      // What the job system does with a transient failure: run it again later.
      const asJob = async <T>(run: () => Promise<T>): Promise<T> => {
        for (;;) {
          try {
            return await run();
          } catch (err) {
            if (!(err instanceof TransientError) || err.code !== 'VENDOR_WRITE_IN_PROGRESS') throw err;
            conflicts++;
            await new Promise((r) => setTimeout(r, 20));
          }
        }
      };
      const [a, b] = [worker(), worker()];
      await Promise.all([
        asJob(() => a.upsertCustomer({ id: 'acc_race', name: 'Race Co', currency: 'USD' })),
        asJob(() => b.setCreditLimit('acc_race', { amountMinor: '500000', currency: 'USD' }, null)),
      ]);
      const partners = odoo.rows('res.partner').filter((p) => p['ref'] === 'acc_race');
      expect(partners).toHaveLength(1);
      expect(conflicts).toBeGreaterThan(0);
      expect(partners[0]?.['credit_limit']).toBe(5000);
      expect(await database.db.query('SELECT 1 FROM sync.remote_write_leases')).toEqual([]);
    } finally {
      await odoo.stop();
      await database.drop();
    }
  });
});
