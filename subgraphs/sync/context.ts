import DataLoader from 'dataloader';
import type { Db } from '../../lib/db/db';
import { byIdLoader, byParentLoader } from '../../lib/loaders';
import type { RequestBase } from '../runtime/server';
import { syncCommands } from './ledger/commands';
import type { SyncEventModel, SyncJobModel } from './ledger/models';
import { type Ledger, ledger } from './ledger/store';
import type { SystemsFor } from './engine/systems';
import type { ConnectionRuntime } from './connections/runtime';
import type { PartnerWebhookRuntime } from './partner-webhooks/runtime';

export interface SyncDeps {
  systems: SystemsFor;
  /** Pokes the in-process worker (no-op when workers run elsewhere; they poll). */
  wake: () => void;
  /** The tenants' connections: the admin API reads and changes them, the registry builds ports from them. */
  connections: ConnectionRuntime;
  /** Webhooks to partners: the admin API's store and settings. */
  partnerWebhooks: PartnerWebhookRuntime;
}

export interface SyncContext extends RequestBase {
  db: Db;
  deps: SyncDeps;
  ledger: Ledger;
  commands: ReturnType<typeof syncCommands>;
  loaders: {
    job: DataLoader<string, SyncJobModel | null>;
    history: DataLoader<string, SyncEventModel[]>;
    /** Keyed by `Type:id` (`Account:acc_1`, `Invoice:inv_1`). */
    links: DataLoader<string, Awaited<ReturnType<Ledger['linksByEntities']>>>;
  };
}

export function syncContext(deps: SyncDeps) {
  return (base: RequestBase, db: Db): SyncContext => {
    const l = ledger(db, base.tenant);
    return {
      ...base,
      db,
      deps,
      ledger: l,
      commands: syncCommands(db, deps.systems(base.tenant, base.correlationId).crm, base.tenant, base.correlationId, deps.wake),
      loaders: {
        job: byIdLoader((ids) => l.jobsByIds(ids)),
        history: byParentLoader((ids) => l.historiesByJobs(ids), (e) => e.jobId ?? ''),
        links: linksLoader(l),
      },
    };
  };
}

/** One statement per entity type and batch, whatever mix of types a request asks for. */
function linksLoader(l: Ledger): SyncContext['loaders']['links'] {
  type Link = Awaited<ReturnType<Ledger['linksByEntities']>>[number];
  return new DataLoader<string, Link[]>(async (keys) => {
    const byType = new Map<string, string[]>();
    for (const key of keys) {
      const [type = '', id = ''] = key.split(':', 2);
      byType.set(type, [...(byType.get(type) ?? []), id]);
    }
    const found = new Map<string, Link[]>();
    await Promise.all([...byType].map(async ([type, ids]) => {
      for (const link of await l.linksByEntities(type, ids)) {
        const key = `${type}:${link.entityId}`;
        found.set(key, [...(found.get(key) ?? []), link]);
      }
    }));
    return keys.map((key) => found.get(key) ?? []);
  });
}
