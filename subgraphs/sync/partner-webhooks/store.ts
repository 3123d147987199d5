import type { Db, Row } from '../../../lib/db/db';
import { int, iso, isoOrNull, newId, str, strOrNull } from '../../../lib/db/rows';
import type { KeyRing, SealedSecret } from '../../../lib/connectors/secret-box';
import type { Page } from '../../../lib/pagination';
import {
  type AttemptModel, type DeliveryModel, type DeliveryState, type DisabledReason, type EndpointModel, type EndpointWithSecret,
  type PartnerEventKind,
} from './models';
import { newSigningSecret } from './signing';

const ENDPOINT_COLS = `id, tenant_id, url, description, event_kinds, enabled, disabled_reason, disabled_at, failure_streak, secret_rotated_at,
  previous_secret_expires_at, last_success_at, last_failure_at, created_at, updated_at`;
const DELIVERY_COLS = `id, seq, tenant_id, endpoint_id, event_id, event_type, body, state, attempts, next_attempt_at, last_status_code, last_error,
  delivered_at, created_at, updated_at`;

const intOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : int(v));

function endpoint(r: Row): EndpointModel {
  return {
    id: str(r['id']), tenant: str(r['tenant_id']), url: str(r['url']), description: strOrNull(r['description']),
    eventKinds: (r['event_kinds'] as PartnerEventKind[] | null) ?? [], enabled: r['enabled'] === true,
    disabledReason: strOrNull(r['disabled_reason']) as DisabledReason | null, disabledAt: isoOrNull(r['disabled_at']),
    failureStreak: int(r['failure_streak']), secretRotatedAt: isoOrNull(r['secret_rotated_at']),
    previousSecretExpiresAt: isoOrNull(r['previous_secret_expires_at']), lastSuccessAt: isoOrNull(r['last_success_at']),
    lastFailureAt: isoOrNull(r['last_failure_at']), createdAt: iso(r['created_at']), updatedAt: iso(r['updated_at']),
  };
}

export function delivery(r: Row): DeliveryModel {
  const state = str(r['state']) as DeliveryState;
  return {
    id: str(r['id']), seq: str(r['seq']), tenant: str(r['tenant_id']), endpointId: str(r['endpoint_id']), eventId: str(r['event_id']), eventType: str(r['event_type']),
    body: str(r['body']), state, attempts: int(r['attempts']),
    nextAttemptAt: state === 'PENDING' || state === 'FAILED' ? isoOrNull(r['next_attempt_at']) : null,
    lastStatusCode: intOrNull(r['last_status_code']), lastError: strOrNull(r['last_error']), deliveredAt: isoOrNull(r['delivered_at']),
    createdAt: iso(r['created_at']), updatedAt: iso(r['updated_at']),
  };
}

function attempt(r: Row): AttemptModel {
  return {
    id: str(r['id']), deliveryId: str(r['delivery_id']), attempt: int(r['attempt']), startedAt: iso(r['started_at']),
    finishedAt: isoOrNull(r['finished_at']), statusCode: intOrNull(r['status_code']), error: strOrNull(r['error']),
    retryAfterMs: intOrNull(r['retry_after_ms']),
  };
}

/** The additional authenticated data of an endpoint's sealed secrets: the row they belong to. */
export const secretAad = (tenant: string, id: string): string => `partner-webhook|${tenant}|${id}`;

export interface NewEndpoint {
  url: string;
  description: string | null;
  eventKinds: readonly PartnerEventKind[];
}

export interface EndpointPatch {
  url?: string;
  description?: string | null;
  eventKinds?: readonly PartnerEventKind[];
  /** true re-enables (and clears the failure streak); false disables (MANUAL). */
  enabled?: boolean;
}

/**
 * The admin side of partner webhooks, bound to one tenant when created: every statement names the tenant, so no
 * method can reach another tenant's endpoints or deliveries. Secrets are sealed before they reach SQL and are
 * returned in clear only by `create` and `rotateSecret`, once.
 */
export function partnerWebhookAdmin(db: Db, ring: KeyRing, tenant: string) {
  const seal = (id: string, secret: string) => JSON.stringify(ring.seal(secret, secretAad(tenant, id)));
  return {
    async list(): Promise<EndpointModel[]> {
      return (await db.query(`SELECT ${ENDPOINT_COLS} FROM sync.partner_webhook_endpoints WHERE tenant_id = $1 ORDER BY created_at, id`, [tenant])).map(endpoint);
    },
    async byId(id: string): Promise<EndpointModel | null> {
      const [row] = await db.query(`SELECT ${ENDPOINT_COLS} FROM sync.partner_webhook_endpoints WHERE tenant_id = $1 AND id = $2`, [tenant, id]);
      return row ? endpoint(row) : null;
    },
    async create(input: NewEndpoint): Promise<EndpointWithSecret> {
      const id = newId('whep');
      const secret = newSigningSecret();
      const [row] = await db.query(
        `INSERT INTO sync.partner_webhook_endpoints (id, tenant_id, url, description, event_kinds, secret) VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${ENDPOINT_COLS}`,
        [id, tenant, input.url, input.description, [...input.eventKinds], seal(id, secret)],
      );
      if (!row) throw new Error('endpoint insert returned nothing');
      return { endpoint: endpoint(row), secret };
    },
    async update(id: string, patch: EndpointPatch): Promise<EndpointModel | null> {
      const [row] = await db.query(
        `UPDATE sync.partner_webhook_endpoints SET
           url = COALESCE($3::text, url),
           description = CASE WHEN $4::boolean THEN $5::text ELSE description END,
           event_kinds = COALESCE($6::text[], event_kinds),
           enabled = COALESCE($7::boolean, enabled),
           disabled_reason = CASE WHEN $7 IS NULL THEN disabled_reason WHEN $7 THEN NULL WHEN enabled THEN 'MANUAL' ELSE disabled_reason END,
           disabled_at = CASE WHEN $7 IS NULL THEN disabled_at WHEN $7 THEN NULL WHEN enabled THEN now() ELSE disabled_at END,
           failure_streak = CASE WHEN $7 IS TRUE THEN 0 ELSE failure_streak END,
           updated_at = now()
         WHERE tenant_id = $1 AND id = $2 RETURNING ${ENDPOINT_COLS}`,
        [tenant, id, patch.url ?? null, patch.description !== undefined, patch.description ?? null, patch.eventKinds ? [...patch.eventKinds] : null, patch.enabled ?? null],
      );
      return row ? endpoint(row) : null;
    },
    /** Deletes the endpoint with its delivery log. */
    async remove(id: string): Promise<boolean> {
      return (await db.query('DELETE FROM sync.partner_webhook_endpoints WHERE tenant_id = $1 AND id = $2 RETURNING id', [tenant, id])).length > 0;
    },
    /**
     * A new secret signs from now on; the current one becomes the previous one and keeps signing beside it for
     * `graceSeconds` (0: at once invalid), so receivers can switch without losing a message.
     */
    async rotateSecret(id: string, graceSeconds: number): Promise<EndpointWithSecret | null> {
      const secret = newSigningSecret();
      const [row] = await db.query(
        `UPDATE sync.partner_webhook_endpoints SET
           previous_secret = CASE WHEN $4::int > 0 THEN secret ELSE NULL END,
           previous_secret_expires_at = CASE WHEN $4::int > 0 THEN now() + make_interval(secs => $4::int) ELSE NULL END,
           secret = $3, secret_rotated_at = now(), updated_at = now()
         WHERE tenant_id = $1 AND id = $2 RETURNING ${ENDPOINT_COLS}`,
        [tenant, id, seal(id, secret), graceSeconds],
      );
      return row ? { endpoint: endpoint(row), secret } : null;
    },
    /** The endpoint's delivery log, newest first, optionally only some states; `page.afterId` is a delivery's `seq`. */
    async deliveries(endpointId: string, states: readonly DeliveryState[] | null, page: Page): Promise<DeliveryModel[]> {
      return (await db.query(
        `SELECT ${DELIVERY_COLS} FROM sync.partner_webhook_deliveries
         WHERE tenant_id = $1 AND endpoint_id = $2 AND ($3::text[] IS NULL OR state = ANY($3::text[])) AND ($4::bigint IS NULL OR seq < $4::bigint)
         ORDER BY seq DESC LIMIT $5`,
        [tenant, endpointId, states ? [...states] : null, page.afterId, page.limit + 1],
      )).map(delivery);
    },
    async deliveryById(id: string): Promise<DeliveryModel | null> {
      const [row] = await db.query(`SELECT ${DELIVERY_COLS} FROM sync.partner_webhook_deliveries WHERE tenant_id = $1 AND id = $2`, [tenant, id]);
      return row ? delivery(row) : null;
    },
    async attemptsOf(deliveryIds: readonly string[]): Promise<AttemptModel[]> {
      return (await db.query(
        `SELECT id, delivery_id, attempt, started_at, finished_at, status_code, error, retry_after_ms FROM sync.partner_webhook_attempts
         WHERE tenant_id = $1 AND delivery_id = ANY($2::text[]) ORDER BY id`,
        [tenant, deliveryIds],
      )).map(attempt);
    },
    /**
     * Sends a delivery again, with the same `webhook-id` and body (receivers deduplicate on the id) and a fresh budget
     * of attempts. 'in-flight' while an attempt is running; null when there is no such delivery.
     */
    async replay(id: string): Promise<DeliveryModel | 'in-flight' | null> {
      // A SENDING delivery whose lease ran out (its worker died, its endpoint was disabled since) is not in flight.
      const [row] = await db.query(
        `UPDATE sync.partner_webhook_deliveries SET state = 'PENDING', attempts_base = attempts, next_attempt_at = now(), locked_by = NULL,
           locked_until = NULL, updated_at = now()
         WHERE tenant_id = $1 AND id = $2 AND (state <> 'SENDING' OR locked_until < now()) RETURNING ${DELIVERY_COLS}`,
        [tenant, id],
      );
      if (row) return delivery(row);
      return (await this.deliveryById(id)) ? 'in-flight' : null;
    },
  };
}

export type PartnerWebhookAdmin = ReturnType<typeof partnerWebhookAdmin>;

/** A delivery claimed by a worker, with what it needs to send it. */
export interface ClaimedDelivery {
  delivery: DeliveryModel;
  attemptId: string;
  /** Attempts since the last replay, this one included. */
  attemptInBudget: number;
  url: string;
  secret: SealedSecret;
  previousSecret: SealedSecret | null;
}

/** What the worker records after an attempt. */
export type Finish =
  | { kind: 'delivered'; status: number }
  | { kind: 'retry'; status: number | null; error: string; delayMs: number; retryAfterMs: number | undefined }
  | { kind: 'give-up'; status: number | null; error: string; retryAfterMs: number | undefined };

/** The worker side: claims across tenants (each row carries its tenant and its own endpoint), records outcomes. */
export function partnerDeliveryQueue(db: Db) {
  return {
    /**
     * Claims up to `limit` due deliveries of enabled endpoints (SKIP LOCKED: many workers, each delivery to one), and
     * deliveries whose worker's lease ran out (it died mid-request): they go out again with the same id. The attempt
     * row is written in the claim's statement, so an attempt cut short still shows in the log.
     */
    async claim(worker: string, limit: number, leaseMs: number, perEndpoint: number): Promise<ClaimedDelivery[]> {
      // Per enabled endpoint, its earliest due deliveries up to its free share (`perEndpoint` minus what it has in
      // flight under a live lease; an index walk per endpoint, however long the queue): one slow or hanging partner
      // holds at most `perEndpoint` slots of the whole fleet, not every worker's. Two workers claiming at the same
      // instant may each see the same count: the cap is soft by that much.
      const rows = await db.query(
        `WITH inflight AS (
           SELECT endpoint_id, count(*) AS n FROM sync.partner_webhook_deliveries WHERE state = 'SENDING' AND locked_until >= now() GROUP BY endpoint_id
         ), allowed AS (
           SELECT x.id FROM sync.partner_webhook_endpoints p
           LEFT JOIN inflight i ON i.endpoint_id = p.id
           CROSS JOIN LATERAL (
             SELECT d.id, d.next_attempt_at FROM sync.partner_webhook_deliveries d
             WHERE d.endpoint_id = p.id AND d.state IN ('PENDING', 'FAILED', 'SENDING')
               AND ((d.state <> 'SENDING' AND d.next_attempt_at <= now()) OR (d.state = 'SENDING' AND d.locked_until < now()))
             ORDER BY d.next_attempt_at, d.seq LIMIT GREATEST($4 - COALESCE(i.n, 0), 0)
           ) x
           WHERE p.enabled
           ORDER BY x.next_attempt_at LIMIT $2
         ), picked AS (
           -- Re-checked once locked: a row another worker claimed meanwhile no longer qualifies.
           SELECT d.id FROM sync.partner_webhook_deliveries d WHERE d.id IN (SELECT id FROM allowed)
             AND ((d.state IN ('PENDING', 'FAILED') AND d.next_attempt_at <= now()) OR (d.state = 'SENDING' AND d.locked_until < now()))
           FOR UPDATE SKIP LOCKED
         ), claimed AS (
           UPDATE sync.partner_webhook_deliveries d SET state = 'SENDING', attempts = d.attempts + 1, locked_by = $1,
             locked_until = now() + make_interval(secs => $3::double precision / 1000), updated_at = now()
           FROM picked WHERE d.id = picked.id RETURNING d.*
         ), attempt AS (
           INSERT INTO sync.partner_webhook_attempts (delivery_id, tenant_id, attempt, worker) SELECT id, tenant_id, attempts, $1 FROM claimed
           RETURNING id AS attempt_id, delivery_id
         )
         SELECT c.*, a.attempt_id, p.url, p.secret AS endpoint_secret,
           CASE WHEN p.previous_secret_expires_at > now() THEN p.previous_secret END AS endpoint_previous_secret
         FROM claimed c JOIN attempt a ON a.delivery_id = c.id JOIN sync.partner_webhook_endpoints p ON p.id = c.endpoint_id`,
        [worker, limit, leaseMs, perEndpoint],
      );
      return rows.map((r) => ({
        delivery: delivery(r), attemptId: str(r['attempt_id']), attemptInBudget: int(r['attempts']) - int(r['attempts_base']), url: str(r['url']),
        secret: r['endpoint_secret'] as SealedSecret, previousSecret: (r['endpoint_previous_secret'] as SealedSecret | null) ?? null,
      }));
    },

    /**
     * Records an attempt's outcome, in one transaction with the endpoint's failure streak: a success clears it; a
     * failure adds one and disables the endpoint (FAILURE_STREAK) at `disableAfter`. The delivery is only changed while
     * this worker still holds it (a worker whose lease ran out leaves the delivery to the one that took it over).
     */
    async finish(worker: string, claimed: ClaimedDelivery, outcome: Finish, disableAfter: number): Promise<void> {
      const d = claimed.delivery;
      await db.transaction(async (tx) => {
        // The endpoint's row first, as deleting an endpoint locks it before its deliveries: the same order both ways,
        // so a delete racing an attempt's outcome waits instead of deadlocking. A deleted endpoint leaves nothing to do.
        const live = await tx.query('SELECT id FROM sync.partner_webhook_endpoints WHERE id = $1 FOR NO KEY UPDATE', [d.endpointId]);
        if (live.length === 0) return;
        const status = outcome.status;
        const error = outcome.kind === 'delivered' ? null : outcome.error;
        const retryAfter = outcome.kind === 'delivered' ? null : (outcome.retryAfterMs ?? null);
        await tx.query(
          'UPDATE sync.partner_webhook_attempts SET finished_at = now(), status_code = $2, error = $3, retry_after_ms = $4 WHERE id = $1',
          [claimed.attemptId, status, error, retryAfter],
        );
        const state = outcome.kind === 'delivered' ? 'SUCCEEDED' : outcome.kind === 'retry' ? 'FAILED' : 'GAVE_UP';
        const held = await tx.query(
          `UPDATE sync.partner_webhook_deliveries SET state = $3, last_status_code = $4, last_error = $5,
             next_attempt_at = now() + make_interval(secs => $6::double precision / 1000),
             delivered_at = CASE WHEN $3 = 'SUCCEEDED' THEN now() ELSE delivered_at END, locked_by = NULL, locked_until = NULL, updated_at = now()
           WHERE id = $1 AND locked_by = $2 AND state = 'SENDING' RETURNING id`,
          [d.id, worker, state, status, error, outcome.kind === 'retry' ? outcome.delayMs : 0],
        );
        if (held.length === 0) return;
        if (outcome.kind === 'delivered') {
          await tx.query('UPDATE sync.partner_webhook_endpoints SET failure_streak = 0, last_success_at = now() WHERE id = $1', [d.endpointId]);
        } else {
          await tx.query(
            `UPDATE sync.partner_webhook_endpoints SET failure_streak = failure_streak + 1, last_failure_at = now(),
               enabled = CASE WHEN enabled AND failure_streak + 1 >= $2 THEN false ELSE enabled END,
               disabled_reason = CASE WHEN enabled AND failure_streak + 1 >= $2 THEN 'FAILURE_STREAK' ELSE disabled_reason END,
               disabled_at = CASE WHEN enabled AND failure_streak + 1 >= $2 THEN now() ELSE disabled_at END,
               updated_at = now()
             WHERE id = $1`,
            [d.endpointId, disableAfter],
          );
        }
      });
    },
  };
}

export type PartnerDeliveryQueue = ReturnType<typeof partnerDeliveryQueue>;

/**
 * Deletes finished deliveries (SUCCEEDED, GAVE_UP) last changed more than `retentionDays` ago, with their attempts,
 * `batch` at a time (SKIP LOCKED: workers sweeping at once share the work). Returns how many went.
 */
export async function sweepDeliveries(db: Db, retentionDays: number, batch = 1000): Promise<number> {
  let total = 0;
  for (;;) {
    const gone = await db.query(
      `DELETE FROM sync.partner_webhook_deliveries WHERE id IN (
         SELECT id FROM sync.partner_webhook_deliveries WHERE state IN ('SUCCEEDED', 'GAVE_UP') AND updated_at < now() - make_interval(days => $1)
         LIMIT $2 FOR UPDATE SKIP LOCKED)
       RETURNING id`,
      [retentionDays, batch],
    );
    total += gone.length;
    if (gone.length < batch) return total;
  }
}
