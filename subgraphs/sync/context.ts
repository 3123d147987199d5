import type DataLoader from 'dataloader';
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
        links: byParentLoader((ids) => l.linksByEntities(ids), (r) => r.entityId),
      },
    };
  };
}
