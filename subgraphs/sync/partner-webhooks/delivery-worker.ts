import { randomUUID } from 'node:crypto';
import type { Db } from '../../../lib/db/db';
import type { KeyRing } from '../../../lib/connectors/secret-box';
import type { Logger } from '../../../lib/logger';
import { type AttemptResult, type DeliveryOutcome, deliveryOutcome } from './outcome';
import { httpSender, type Sender } from './sender';
import { type PartnerWebhookSettings, leaseMs } from './settings';
import { type SignedHeaders, signedHeaders } from './signing';
import { type ClaimedDelivery, type Finish, partnerDeliveryQueue, secretAad, sweepDeliveries } from './store';

const SWEEP_EVERY_MS = 10 * 60_000;

export interface DeliveryWorkerOptions {
  db: Db;
  ring: KeyRing;
  settings: PartnerWebhookSettings;
  logger: Logger;
  /** The HTTP side; the real one (SSRF guard, timeouts) unless a test hands its own. */
  sender?: Sender;
}

export interface DeliveryWorker {
  readonly id: string;
  /** Claims due deliveries now instead of at the next poll. */
  wake(): void;
  stop(): Promise<void>;
}

/**
 * The partner-webhook delivery loop of one process: claims due deliveries from the Postgres outbox (SKIP LOCKED, a
 * lease per claim), signs each attempt (Standard Webhooks), POSTs it and records the outcome. At least once: a
 * delivery is only marked SUCCEEDED after a 2xx, and one whose worker died mid-request is claimed again when its lease
 * runs out and sent with the same `webhook-id`. Up to `concurrency` deliveries are in flight at once.
 */
export function startDeliveryWorker(opts: DeliveryWorkerOptions): DeliveryWorker {
  const { settings } = opts;
  const id = `webhooks-${randomUUID().slice(0, 8)}`;
  const logger = opts.logger.child({ deliveryWorker: id });
  const queue = partnerDeliveryQueue(opts.db);
  const sender = opts.sender ?? httpSender(settings, settings.timeoutMs);
  let running = true;
  const inFlight = new Set<Promise<void>>();
  let wakeUp: (() => void) | null = null;
  const wake = () => wakeUp?.();

  const secretsOf = (c: ClaimedDelivery): string[] => {
    const aad = secretAad(c.delivery.tenant, c.delivery.endpointId);
    const current = opts.ring.open(c.secret, aad);
    return c.previousSecret ? [current, opts.ring.open(c.previousSecret, aad)] : [current];
  };

  const attempt = async (c: ClaimedDelivery): Promise<AttemptResult> => {
    let headers: SignedHeaders;
    try {
      headers = signedHeaders(c.delivery.id, new Date(), c.delivery.body, secretsOf(c));
    } catch (err) {
      // A secret that does not open (its key left CONNECTOR_KEYS): a failed attempt like any other; never logged with it.
      logger.error({ reason: err instanceof Error ? err.message : 'error', delivery: c.delivery.id }, 'partner webhook could not be signed');
      return { kind: 'no-answer', error: 'SIGNING_FAILED' };
    }
    return sender.send(c.url, headers, c.delivery.body);
  };

  const deliver = async (c: ClaimedDelivery): Promise<void> => {
    const result = await attempt(c);
    const finish = finishOf(result, deliveryOutcome(result, c.attemptInBudget, settings.maxAttempts, settings));
    await queue.finish(id, c, finish, settings.disableAfterFailures);
    logger.debug({ delivery: c.delivery.id, endpoint: c.delivery.endpointId, tenant: c.delivery.tenant, outcome: finish.kind, status: finish.status }, 'partner webhook attempt');
  };

  const loop = async (): Promise<void> => {
    while (running) {
      const free = settings.concurrency - inFlight.size;
      let claimed: ClaimedDelivery[] = [];
      if (free > 0) {
        try {
          claimed = await queue.claim(id, free, leaseMs(settings), settings.maxInFlightPerEndpoint);
        } catch (err) {
          logger.warn({ err }, 'partner webhook claim failed');
        }
      }
      for (const c of claimed) {
        const sending = deliver(c)
          .catch((err: unknown) => logger.error({ err, delivery: c.delivery.id }, 'partner webhook outcome not recorded (the lease will expire and it is sent again)'))
          .finally(() => {
            inFlight.delete(sending);
            wake();
          });
        inFlight.add(sending);
      }
      if (claimed.length === 0 || inFlight.size >= settings.concurrency) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, settings.pollMs);
          function done() {
            clearTimeout(timer);
            wakeUp = null;
            resolve();
          }
          wakeUp = done;
        });
      }
    }
  };
  const looping = settings.concurrency > 0 ? loop() : Promise.resolve();
  // The delivery log's retention: every worker sweeps now and then (SKIP LOCKED shares the work).
  const sweeper = settings.concurrency > 0
    ? setInterval(() => void sweepDeliveries(opts.db, settings.retentionDays).catch((err: unknown) => logger.warn({ err }, 'partner webhook log sweep failed')), SWEEP_EVERY_MS)
    : undefined;
  sweeper?.unref();

  return {
    id,
    wake,
    async stop() {
      running = false;
      if (sweeper) clearInterval(sweeper);
      wake();
      await looping;
      // Deliveries in flight finish (bounded by the timeout); anything cut short is sent again after its lease.
      await Promise.allSettled([...inFlight]);
      await sender.close();
    },
  };
}

/** What the queue records for an attempt's result and the decision taken on it. */
function finishOf(result: AttemptResult, outcome: DeliveryOutcome): Finish {
  const status = result.kind === 'answered' ? result.status : null;
  const retryAfterMs = result.kind === 'answered' ? result.retryAfterMs : undefined;
  switch (outcome.kind) {
    case 'delivered':
      return { kind: 'delivered', status: status ?? 200 };
    case 'retry':
      return { kind: 'retry', status, error: outcome.error, delayMs: outcome.delayMs, retryAfterMs };
    case 'give-up':
      return { kind: 'give-up', status, error: outcome.error, retryAfterMs };
  }
}
