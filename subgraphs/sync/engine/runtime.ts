import { randomUUID } from 'node:crypto';
import type { Config } from '../../../lib/config';
import type { Db } from '../../../lib/db/db';
import type { EventBus } from '../../../lib/events';
import type { Logger } from '../../../lib/logger';
import type { RetryPolicy } from './errors';
import { type FaultInjector, faultsFromJson } from './faults';
import { accountUpsertFlow } from './flows/account-upsert';
import { invoicePostFlow, paymentApplyFlow } from './flows/invoice-ledger';
import { quoteToCashFlow } from './flows/quote-to-cash';
import { remoteChangeFlow } from './flows/remote-change';
import { remotePushFlow } from './flows/remote-push';
import { reconcileTenant } from './reconcile';
import { type SystemsFor, connectedSystems } from './systems';
import type { ConnectionRuntime } from '../connections/runtime';
import { type Worker, startWorker } from './worker';
import type { OnWritten } from './relay';
import { ledgerTenants } from '../ledger/store';
import { type PollOutcome, pollAllConnections } from '../remote/polling';
import { initialSyncFlow, remotePageFlow } from '../remote/initial-sync';
import type { PartnerWebhookRuntime } from '../partner-webhooks/runtime';

export interface SyncEngineOptions {
  db: Db;
  bus: EventBus;
  logger: Logger;
  faults: FaultInjector;
  retry: RetryPolicy;
  /** Seconds between scheduled reconciliations of every tenant; 0 turns the schedule off. */
  reconcileIntervalSeconds: number;
  /** Seconds between polls of vendor CRM/ERP connections; 0 or absent turns polling off. */
  pollIntervalSeconds?: number;
  pollMs?: number;
  lockSeconds?: number;
  /** Jobs this engine runs at once. @default 4 */
  concurrency?: number;
  /** Told about each tenant whose systems sync steps wrote (the response cache evicts what they wrote). */
  onWritten?: OnWritten;
  /** The tenants' connections; without it every tenant is on the reference stores. */
  connections?: ConnectionRuntime;
  /** With it, this engine also runs a partner-webhook delivery loop. */
  partnerWebhooks?: PartnerWebhookRuntime;
}

export interface SyncEngine {
  worker: Worker;
  systems: SystemsFor;
  faults: FaultInjector;
  /** Polls every vendor connection now (what the schedule does), with the same leases. */
  pollNow(): Promise<PollOutcome[]>;
  stop(): Promise<void>;
}

/** The engine's settings from the configuration: fault injection, retry backoff, reconciliation schedule. */
export function syncEngineSettings(config: Config): Pick<SyncEngineOptions, 'faults' | 'retry' | 'reconcileIntervalSeconds' | 'pollIntervalSeconds'> {
  return {
    faults: faultsFromJson(config.sync.faults),
    retry: { baseDelayMs: config.sync.retryBaseMs, maxDelayMs: 30_000 },
    reconcileIntervalSeconds: config.sync.reconcileIntervalSeconds,
    pollIntervalSeconds: config.sync.pollIntervalSeconds,
  };
}

/** A worker with every flow wired to the reference systems, plus the reconciliation schedule. */
export function startSyncEngine(opts: SyncEngineOptions): SyncEngine {
  const systems = connectedSystems(opts.db, opts.faults, opts.connections);
  const worker = startWorker({
    db: opts.db,
    bus: opts.bus,
    logger: opts.logger,
    retry: opts.retry,
    pollMs: opts.pollMs,
    lockSeconds: opts.lockSeconds,
    concurrency: opts.concurrency,
    onWritten: opts.onWritten,
    flows: {
      ACCOUNT_UPSERT: accountUpsertFlow(opts.db, systems),
      RECONCILE_REPAIR: accountUpsertFlow(opts.db, systems),
      QUOTE_TO_CASH: quoteToCashFlow(opts.db, systems),
      INVOICE_POST: invoicePostFlow(opts.db, systems),
      PAYMENT_APPLY: paymentApplyFlow(systems),
      REMOTE_CHANGE: remoteChangeFlow(opts.db, systems, opts.connections),
      INITIAL_SYNC: initialSyncFlow(opts.db, opts.connections),
      REMOTE_PAGE: remotePageFlow(opts.db, opts.connections),
      REMOTE_PUSH: remotePushFlow(systems),
    },
  });
  // Credentials still sealed under a retired key move to the active one (old keys only need to stay until this ran).
  opts.connections?.store.rewrapAll().then(
    (moved) => moved > 0 && opts.logger.info({ moved }, 'connection credentials re-wrapped with the active key'),
    (err: unknown) => opts.logger.error({ err }, 'could not re-wrap connection credentials'),
  );
  const deliveries = opts.partnerWebhooks?.startDelivery(opts.logger);
  let timer: NodeJS.Timeout | undefined;
  if (opts.reconcileIntervalSeconds > 0) {
    timer = setInterval(() => void reconcileAll(opts, systems, worker), opts.reconcileIntervalSeconds * 1000);
    timer.unref();
  }
  const pollNow = () => pollAll(opts, worker);
  const poller = opts.pollIntervalSeconds ? setInterval(() => void pollNow(), opts.pollIntervalSeconds * 1000) : undefined;
  poller?.unref();
  return {
    worker,
    systems,
    faults: opts.faults,
    pollNow,
    async stop() {
      if (timer) clearInterval(timer);
      if (poller) clearInterval(poller);
      await worker.stop();
      await deliveries?.stop();
    },
  };
}

/** Scheduled reconciliation; an advisory lock makes one worker of many run it per interval. */
async function reconcileAll(opts: SyncEngineOptions, systems: SystemsFor, worker: Worker): Promise<void> {
  try {
    const tenants = await opts.db.transaction(async (tx) => {
      const [lock] = await tx.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock(724114) AS ok');
      return lock?.ok ? ledgerTenants(opts.db) : [];
    });
    for (const tenant of tenants) await reconcileTenant(opts.db, systems, tenant, `reconcile-${Date.now()}`, opts.connections);
    worker.wake();
  } catch (err) {
    opts.logger.error({ err }, 'scheduled reconciliation failed');
  }
}

/**
 * Scheduled polling of vendor connections: a lease per connection (remote/polling.ts), taken and released in short
 * statements, so no transaction stays open while vendors are read and several engines share the work.
 */
async function pollAll(opts: SyncEngineOptions, worker: Worker): Promise<PollOutcome[]> {
  const connections = opts.connections;
  if (!connections) return [];
  try {
    const outcomes = await pollAllConnections(opts.db, connections, {
      holder: `${worker.id}:${randomUUID().slice(0, 8)}`,
      onError: (connectionId, err) => opts.logger.warn({ err, connectionId }, 'polling a connection failed'),
    });
    if (outcomes.some((o) => o.enqueued > 0)) worker.wake();
    return outcomes;
  } catch (err) {
    opts.logger.error({ err }, 'scheduled polling failed');
    return [];
  }
}
