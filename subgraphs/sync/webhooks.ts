import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Db } from '../../lib/db/db';
import { WEBHOOK_MAX_BYTES as MAX_BYTES, readRawBody, sendJson } from '../../lib/http/server';
import type { Logger } from '../../lib/logger';
import { enqueueSyncJob } from '../../lib/outbox';
import { WebhookVerificationError } from '../billing/connector/remote-port';
import type { ConnectionRuntime } from './connections/runtime';
import { type RemoteChangePayload, SYNCED_KINDS } from './engine/flows/remote-change';
import { webhookAccepted, webhookRefused } from '../../lib/telemetry/sync-metrics';
import { ERRORS, type ErrorCode, errorCode, isErrorCode, specOf } from '../../lib/errors';

const PATH = /^\/webhooks\/([a-z0-9-]{1,40})\/([A-Za-z0-9_]{1,80})$/;

/** Webhook answers are the vendor's, not GraphQL: `{ error: { code, message } }`, with the code's status from the registry. */
const refuse = (res: ServerResponse, code: ErrorCode, message: string) => sendJson(res, ERRORS[code].status, { error: { code, message } });

/**
 * `POST /webhooks/{vendor}/{connectionId}` on the sync service (it owns the ledger). Outside the gateway's JWT: the
 * vendor's signature over the raw body authenticates the request. Unknown or disabled connection -> 404; missing or
 * bad signature -> 401 and nothing stored; otherwise the event is stored (deduplicated by the vendor's event id) and
 * its REMOTE_CHANGE job enqueued in one transaction, and only then answered 200, so a 2xx means durably stored.
 */
export function webhookRoutes(connections: ConnectionRuntime, wake: () => void) {
  return (db: Db, logger: Logger) => async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const match = PATH.exec((req.url ?? '').split('?')[0] ?? '');
    if (!match) return false;
    const [, vendor, connectionId] = match as unknown as [string, string, string];
    try {
      await receive(req, res, { vendor, connectionId, db, logger, connections, wake });
    } catch (err) {
      // Nothing was stored: the vendor retries on any non-2xx. A typed failure (Postgres restarting: SERVICE_UNAVAILABLE,
      // whose message is ours, never the driver's) is answered with its registry status; anything else is an internal
      // error, logged here (no Apollo plugin sees this route).
      const code = errorCode(err);
      const known = isErrorCode(code) && specOf(code).safe;
      if (!known) logger.error({ err, connectionId }, 'webhook failed');
      if (res.headersSent) res.destroy();
      else if (known) refuse(res, code, err instanceof Error ? err.message : code);
      else refuse(res, 'INTERNAL_SERVER_ERROR', 'Internal server error');
    }
    return true;
  };
}

interface Delivery {
  vendor: string;
  connectionId: string;
  db: Db;
  logger: Logger;
  connections: ConnectionRuntime;
  wake: () => void;
}

async function receive(req: IncomingMessage, res: ServerResponse, { vendor, connectionId, db, logger, connections, wake }: Delivery): Promise<void> {
  if (req.method !== 'POST') {
    res.setHeader('allow', 'POST');
    refuse(res, 'METHOD_NOT_ALLOWED', 'Webhooks are POSTed');
    return;
  }
  const connection = await connections.store.byId(connectionId);
  const webhooks = connection && connection.enabled && connection.adapter === vendor ? await connections.billingWebhooks(connection) : null;
  if (!connection || !webhooks) {
    // The path's vendor is the caller's text: never a label value.
    webhookRefused(connection?.adapter ?? 'unknown', 'unknown_connection');
    refuse(res, 'NOT_FOUND', 'No such connection');
    return;
  }
  const body = await readRawBody(req, MAX_BYTES);
  if (!body) {
    res.setHeader('connection', 'close');
    webhookRefused(connection.adapter, 'too_large');
    refuse(res, 'PAYLOAD_TOO_LARGE', `Webhook body exceeds ${MAX_BYTES} bytes`);
    return;
  }
  const signature = req.headers['stripe-signature'];
  let event;
  try {
    event = webhooks.verify(body, Array.isArray(signature) ? signature[0] : signature);
  } catch (err) {
    if (!(err instanceof WebhookVerificationError)) throw err;
    logger.warn({ connectionId, reason: err.message }, 'webhook refused: signature');
    webhookRefused(connection.adapter, 'signature');
    refuse(res, 'UNAUTHENTICATED', 'Webhook signature missing or invalid');
    return;
  }
  const tenant = connection.tenant;
  const stored = await db.transaction(async (tx) => {
    const [row] = await tx.query<{ event_id: string }>(
      `INSERT INTO sync.remote_events (connection_id, event_id, tenant_id, type, object_type, object_id, payload) VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (connection_id, event_id) DO NOTHING RETURNING event_id`,
      [connection.id, event.eventId, tenant, event.type, event.objectKind, event.remoteId, body.toString('utf8')],
    );
    if (!row || !SYNCED_KINDS.includes(event.objectKind)) return row ? 'ignored' : 'duplicate';
    const payload: RemoteChangePayload = { connectionId: connection.id, eventId: event.eventId, type: event.type, objectKind: event.objectKind, remoteId: event.remoteId };
    const jobId = await enqueueSyncJob(tx, {
      tenant, kind: 'REMOTE_CHANGE', entityType: event.objectKind, entityId: event.remoteId, sourceSystem: connection.system, targetSystem: null,
      correlationId: `webhook:${event.eventId}`, idempotencyKey: `remote:${connection.id}:${event.eventId}`, payload: { ...payload },
    });
    await tx.query('UPDATE sync.remote_events SET job_id = $3 WHERE connection_id = $1 AND event_id = $2', [connection.id, event.eventId, jobId]);
    return 'stored';
  });
  if (stored === 'stored') wake();
  if (stored !== 'duplicate') webhookAccepted(connection.adapter, new Date(event.created));
  sendJson(res, 200, { received: true, duplicate: stored === 'duplicate' });
}
