import { randomUUID } from 'node:crypto';
import type { ChangePage, RemoteRecord } from '../../lib/connectors/remote';
import type { CrmFields, CrmKind, CrmRemote, RemoteAccountFields } from '../../subgraphs/crm/connector/remote-port';

/** One adapter under the contract, against its vendor (a fake over HTTP). */
export interface CrmRemoteUnderTest {
  remote: CrmRemote;
  /** Changes an account the way a user in the vendor's own UI would (not through the adapter). */
  renameOutOfBand(remoteId: string, name: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * What every `CrmRemote` must do for the sync engine, whatever the vendor: the graphql-ws way, one suite run against
 * every adapter. `factory` gives a fresh, empty vendor each test.
 */
export function crmRemoteContract(name: string, factory: () => Promise<CrmRemoteUnderTest>): void {
  describe(`CrmRemote contract: ${name}`, () => {
    let t: CrmRemoteUnderTest;
    beforeEach(async () => {
      t = await factory();
    });
    afterEach(async () => {
      await t.close();
    });

    const account = (n: string): RemoteAccountFields => ({ name: n, domain: `${n.toLowerCase()}.example`, industry: null, lifecycleStage: 'CUSTOMER', ownerRemoteId: null, custom: {} });

    it('checks access with one authenticated read', async () => {
      expect((await t.remote.checkAccess()).accountId).not.toBe('');
    });

    it('upserts by canonical id: a retried write updates the record it made instead of making another', async () => {
      const canonicalId = randomUUID();
      const [first] = await t.remote.upsert('account', [{ canonicalId, fields: account('Initech') }]);
      const [again] = await t.remote.upsert('account', [{ canonicalId, fields: account('Initech') }]);
      expect(again!.remoteId).toBe(first!.remoteId);
      expect(again!.canonicalId).toBe(canonicalId);
      const all = await readAll(t.remote, 'account');
      expect(all.filter((r) => r.canonicalId === canonicalId)).toHaveLength(1);
    });

    it('maps fields both ways and keeps the vendor record as remoteData', async () => {
      const canonicalId = randomUUID();
      const [made] = await t.remote.upsert('account', [{ canonicalId, fields: account('Globex') }]);
      const [read] = await t.remote.get('account', [made!.remoteId]);
      expect(read!.fields).toEqual(account('Globex'));
      expect(JSON.stringify(read!.remoteData)).toContain('Globex');
      expect(Date.parse(read!.remoteUpdatedAt)).not.toBeNaN();
    });

    it('writes only the fields given', async () => {
      const [made] = await t.remote.upsert('account', [{ canonicalId: randomUUID(), fields: account('Hooli') }]);
      const [renamed] = await t.remote.upsert('account', [{ canonicalId: made!.canonicalId!, fields: { name: 'Hooli XYZ' } }]);
      expect(renamed!.fields).toEqual({ ...account('Hooli'), name: 'Hooli XYZ' });
    });

    it('leaves ids it does not know out of a read', async () => {
      const [made] = await t.remote.upsert('account', [{ canonicalId: randomUUID(), fields: account('Umbrella') }]);
      const read = await t.remote.get('account', [made!.remoteId, '999999999']);
      expect(read.map((r) => r.remoteId)).toEqual([made!.remoteId]);
    });

    it('reads every change through the cursor, and a re-read page changes nothing', async () => {
      const made = await t.remote.upsert('account', ['A', 'B', 'C', 'D', 'E'].map((n) => ({ canonicalId: randomUUID(), fields: account(`Co ${n}`) })));
      const seen = new Map<string, string>();
      let cursor: string | null = null;
      let pages = 0;
      for (;;) {
        const page: ChangePage<RemoteAccountFields> = await t.remote.changes('account', cursor, 2);
        const again = await t.remote.changes('account', cursor, 2);
        expect(again.records.map((r) => [r.remoteId, r.remoteUpdatedAt])).toEqual(page.records.map((r) => [r.remoteId, r.remoteUpdatedAt]));
        for (const r of page.records) seen.set(r.remoteId, r.remoteUpdatedAt);
        cursor = page.cursor;
        pages += 1;
        if (!page.hasMore) break;
        expect(pages).toBeLessThan(10);
      }
      expect(pages).toBeGreaterThanOrEqual(3);
      for (const r of made) expect(seen.get(r.remoteId)).toBe(r.remoteUpdatedAt);

      // A change made in the vendor after we caught up arrives from the stored cursor.
      await t.renameOutOfBand(made[2]!.remoteId, 'Co C renamed');
      const after = await t.remote.changes('account', cursor, 50);
      const changed = after.records.find((r) => r.remoteId === made[2]!.remoteId);
      expect(changed?.fields.name).toBe('Co C renamed');
      expect(Date.parse(changed!.remoteUpdatedAt)).toBeGreaterThan(Date.parse(made[2]!.remoteUpdatedAt));
    });
  });
}

async function readAll<K extends CrmKind>(remote: CrmRemote, kind: K): Promise<RemoteRecord<CrmFields[K]>[]> {
  const out: RemoteRecord<CrmFields[K]>[] = [];
  let cursor: string | null = null;
  for (let i = 0; i < 100; i++) {
    const page: ChangePage<CrmFields[K]> = await remote.changes(kind, cursor, 100);
    out.push(...page.records);
    cursor = page.cursor;
    if (!page.hasMore) break;
  }
  return out;
}
