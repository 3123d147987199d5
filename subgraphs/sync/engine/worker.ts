import { randomUUID } from 'node:crypto';
import type { Db } from '../../../lib/db/db';
import type { EventBus } from '../../../lib/events';
import type { JobKind } from '../../../lib/outbox';
import type { Logger } from '../../../lib/logger';
import type { SyncJobModel } from '../ledger/models';
import { claimNext, transition } from '../ledger/store';
import { type RetryPolicy, classify } from './errors';
import { recordedMessage } from './recorded-message';
import { fullText } from '../../../lib/scoped-message';
import { relayEvents } from './relay';
import { jobSpan } from '../job-tracing';
import { jobEnded, jobRetried, jobSucceeded } from '../../../lib/telemetry/sync-metrics';

/** A flow runs one job to the end or throws (TransientError, PermanentError, CompensatedError). */
export type Flow = (job: SyncJobModel) => Promise<string | null>;

export interface WorkerOptions {
  db: Db;
  bus: EventBus;
  flows: Record<JobKind, Flow>;
  logger: Logger;
  retry: RetryPolicy;
  /** How long a claimed job stays locked; a worker that dies mid-job loses it after this. @default 30 */
  lockSeconds?: number;
  /** Idle poll interval. Enqueues in this process wake the worker at once. @default 200 */
  pollMs?: number;
  /** Jobs run at the same time by this worker. @default 4 */
  concurrency?: number;
  /** Told about each tenant whose systems the relayed events say were written (the response cache's generation). */
  onWritten?: (tenant: string) => Promise<void>;
}

export interface Worker {
  readonly id: string;
  /** Wakes idle loops now (a job was just enqueued in this process). */
  wake(): void;
  /** Claim loops still running (readiness: 0 means this worker runs no jobs). */
  liveLoops(): number;
  stop(): Promise<void>;
}

/**
 * Polls the ledger with SKIP LOCKED claims: any number of workers, in any number of processes, on one Postgres,
 * and each job runs once at a time. Every state change is stored with an event and then relayed to subscribers.
 */
export function startWorker(opts: WorkerOptions): Worker {
  const id = `worker-${randomUUID().slice(0, 8)}`;
  const logger = opts.logger.child({ worker: id });
  const pollMs = opts.pollMs ?? 200;
  let running = true;
  const sleepers = new Set<() => void>();
  const sleep = () =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, pollMs);
      function done() {
        clearTimeout(timer);
        sleepers.delete(done);
        resolve();
      }
      sleepers.add(done);
    });
  const wakeAll = () => {
    for (const wake of [...sleepers]) wake();
  };

  const relay = () => relayEvents(opts.db, opts.bus, { onWritten: opts.onWritten }).catch((err: unknown) => logger.warn({ err }, 'event relay failed'));

  const runOne = async (job: SyncJobModel): Promise<void> => {
    const log = logger.child({ jobId: job.id, kind: job.kind, correlationId: job.correlationId, attempt: job.attempts });
    const flow = opts.flows[job.kind];
    try {
      const result = await flow(job);
      await opts.db.transaction((tx) => transition(tx, job.id, { state: 'SUCCEEDED', result }));
      jobSucceeded(job);
      // Transitions log at debug: metrics count them, and at info every job flooded the console.
      log.debug('job succeeded');
    } catch (err) {
      const classified = classify(err, job.attempts, job.maxAttempts, opts.retry);
      // The ledger gets the message with its values classified (shown by each reader's scopes, see recordedMessage);
      // the log keeps the full text.
      const outcome = { ...classified, message: recordedMessage(classified.message, job) };
      log.info({ code: outcome.code, reason: fullText(outcome.message) }, 'job attempt failed');
      switch (outcome.kind) {
        case 'retry':
          await opts.db.transaction((tx) =>
            transition(tx, job.id, { state: 'FAILED', errorCode: outcome.code, message: outcome.message, nextRunAt: new Date(Date.now() + outcome.delayMs) }),
          );
          jobRetried(job, outcome.code);
          log.debug({ code: outcome.code, delayMs: outcome.delayMs }, 'job failed, will retry');
          break;
        case 'dead-letter':
          await opts.db.transaction((tx) => transition(tx, job.id, { state: 'DEAD_LETTERED', errorCode: outcome.code, message: outcome.message }));
          jobEnded(job, 'dead_lettered');
          log.error({ code: outcome.code, reason: fullText(outcome.message) }, 'job dead-lettered');
          break;
        case 'compensated':
          await opts.db.transaction((tx) =>
            transition(tx, job.id, { state: 'COMPENSATED', errorCode: outcome.code, message: outcome.message, result: outcome.result }),
          );
          jobEnded(job, 'compensated');
          log.warn({ code: outcome.code }, 'workflow compensated');
          break;
      }
    }
  };

  let live = 0;
  const loop = async (): Promise<void> => {
    live += 1;
    while (running) {
      let job: SyncJobModel | null = null;
      try {
        const claimed = await claimNext(opts.db, id, opts.lockSeconds ?? 30);
        job = claimed;
        if (claimed) {
          await jobSpan(claimed, () => runOne(claimed));
          await relay();
        }
      } catch (err) {
        logger.error({ err }, 'worker loop error');
      }
      if (!job && running) await sleep();
    }
    live -= 1;
  };

  // One relay tick per worker, not one per idle loop: it publishes what loops did not relay right after a job (a
  // RUNNING state of a long job, PENDING events and business status events written by the API).
  const ticker = setInterval(() => void relay(), pollMs);
  ticker.unref();
  const loops = Array.from({ length: opts.concurrency ?? 4 }, () => loop());
  return {
    id,
    wake: wakeAll,
    liveLoops: () => live,
    async stop() {
      running = false;
      clearInterval(ticker);
      wakeAll();
      await Promise.all(loops);
      await relay();
    },
  };
}
