import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Db, Queryable } from '../../lib/db/db';
import { WEBHOOK_MAX_BYTES as MAX_BYTES, readRawBody, sendJson } from '../../lib/http/server';
import type { Logger } from '../../lib/logger';
import { enqueueSyncJob } from '../../lib/outbox';
import { WebhookSignatureError } from '../../lib/connectors/remote';
import type { ConnectionModel } from './connections/models';
import type { ConnectionRuntime } from './connections/runtime';
import { SYNCED_KINDS } from './engine/flows/remote-change';
import { mapsCustomerMetadata } from '../billing/connector/stripe/settings';
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
  const verifier = connection && connection.enabled && connection.adapter === vendor ? await verifierFor(connections, connection) : null;
  if (!connection || !verifier) {
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
  let events: VerifiedEvent[];
  try {
    events = verifier(req, body);
  } catch (err) {
    if (!(err instanceof WebhookSignatureError)) throw err;
    logger.warn({ connectionId, reason: err.message }, 'webhook refused: signature');
    webhookRefused(connection.adapter, 'signature');
    refuse(res, 'UNAUTHENTICATED', 'Webhook signature missing or invalid');
    return;
  }
  // Every event of the delivery (HubSpot batches them) with its job, in one transaction, before the 2xx.
  const outcomes = await db.transaction(async (tx) => {
    const done: ('stored' | 'ignored' | 'duplicate')[] = [];
    for (const event of events) done.push(await storeEvent(tx, connection, event, body));
    return done;
  });
  if (outcomes.includes('stored')) wake();
  events.forEach((event, i) => outcomes[i] !== 'duplicate' && webhookAccepted(connection.adapter, new Date(event.created)));
  const duplicate = outcomes.length > 0 && outcomes.every((o) => o === 'duplicate');
  sendJson(res, 200, { received: true, duplicate });
}

/** A vendor event whose signature checked out, in the one shape the ledger stores. */
interface VerifiedEvent {
  eventId: string;
  type: string;
  objectKind: string;
  remoteId: string;
  /** When the vendor says the change happened (ms). */
  created: number;
}

type Verifier = (req: IncomingMessage, body: Buffer) => VerifiedEvent[];

const header = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);

/**
 * The URL the vendor called, as it signs it (HubSpot v3 signs method + URI + body + timestamp). Behind a proxy the
 * proxy must pass the public Host and X-Forwarded-Proto; trusting them is safe, since a forged URL breaks the signature.
 */
function publicUrl(req: IncomingMessage): string {
  const proto = header(req.headers['x-forwarded-proto'])?.split(',')[0]?.trim() || 'http';
  const host = header(req.headers['x-forwarded-host'])?.split(',')[0]?.trim() || req.headers.host || 'localhost';
  return `${proto}://${host}${req.url ?? ''}`;
}

/** How a connection's deliveries are verified: Stripe's one event per request, HubSpot's batch of events. */
async function verifierFor(connections: ConnectionRuntime, connection: ConnectionModel): Promise<Verifier | null> {
  if (connection.system === 'BILLING') {
    const webhooks = await connections.billingWebhooks(connection);
    if (!webhooks) return null;
    return (req, body) => {
      const e = webhooks.verify(body, header(req.headers['stripe-signature']));
      return [{ eventId: e.eventId, type: e.type, objectKind: e.objectKind, remoteId: e.remoteId, created: new Date(e.created).getTime() }];
    };
  }
  if (connection.system === 'CRM') {
    const webhooks = (await connections.crmRemote(connection))?.webhooks;
    if (!webhooks) return null;
    return (req, body) => {
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, header(v)]));
      return webhooks.verify({ method: req.method ?? 'POST', url: publicUrl(req), headers, rawBody: body }).map((e) => ({
        eventId: e.eventId, type: `${e.kind}.${e.change}`, objectKind: e.kind, remoteId: e.remoteId, created: Date.parse(e.occurredAt),
      }));
    };
  }
  return null;
}

/**
 * Stores one event (deduplicated by the vendor's event id) and enqueues its REMOTE_CHANGE job in the caller's
 * transaction. Events about records we do not sync are stored and start no job.
 */
async function storeEvent(tx: Queryable, connection: ConnectionModel, event: VerifiedEvent, body: Buffer): Promise<'stored' | 'ignored' | 'duplicate'> {
  const [row] = await tx.query<{ event_id: string }>(
    `INSERT INTO sync.remote_events (connection_id, event_id, tenant_id, type, object_type, object_id, payload) VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (connection_id, event_id) DO NOTHING RETURNING event_id`,
    [connection.id, event.eventId, connection.tenant, event.type, event.objectKind, event.remoteId, body.toString('utf8')],
  );
  if (!row) return 'duplicate';
  // Stripe customers are applied only for a connection that maps their metadata.
  const synced = connection.system !== 'BILLING' || SYNCED_KINDS.some((k) => k === event.objectKind)
    || (event.objectKind === 'customer' && mapsCustomerMetadata(connection.settings));
  if (!synced) return 'ignored';
  const jobId = await enqueueSyncJob(tx, {
    tenant: connection.tenant, kind: 'REMOTE_CHANGE', entityType: event.objectKind, entityId: event.remoteId, sourceSystem: connection.system, targetSystem: null,
    correlationId: `webhook:${event.eventId}`, idempotencyKey: `remote:${connection.id}:${event.eventId}`,
    payload: { connectionId: connection.id, eventId: event.eventId, type: event.type, objectKind: event.objectKind, remoteId: event.remoteId },
  });
  await tx.query('UPDATE sync.remote_events SET job_id = $3 WHERE connection_id = $1 AND event_id = $2', [connection.id, event.eventId, jobId]);
  return 'stored';
}
