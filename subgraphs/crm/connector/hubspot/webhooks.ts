import { timingSafeEqual } from 'node:crypto';
import { Signature } from '@hubspot/api-client';
import { type InboundWebhook, type RemoteChangeEvent, WebhookSignatureError } from '../../../../lib/connectors/remote';
import type { CrmKind } from '../remote-port';

/** HubSpot's documented window: a request whose timestamp is older than 5 minutes must be rejected. */
const MAX_AGE_MS = 5 * 60_000;

const KIND_OF: Record<string, CrmKind> = { company: 'account', contact: 'contact', deal: 'opportunity' };
const CHANGE_OF: Record<string, RemoteChangeEvent<CrmKind>['change']> = {
  creation: 'created', propertyChange: 'updated', associationChange: 'updated', merge: 'updated', restore: 'updated', deletion: 'deleted', privacyDeletion: 'deleted',
};

/**
 * Verifies a HubSpot webhook request (signature v3: base64 HMAC-SHA256 with the app's client secret over method +
 * URI + raw body + timestamp) and turns its events into change notices. The SDK computes the signature; the
 * comparison is constant-time and the window is checked both ways (the SDK's own check accepts future stamps).
 * Event types we do not map are dropped, not refused: HubSpot would retry a refused batch.
 */
export function verifyHubSpotWebhook(request: InboundWebhook, clientSecret: string, now = Date.now()): RemoteChangeEvent<CrmKind>[] {
  const signature = request.headers['x-hubspot-signature-v3'];
  const timestamp = Number(request.headers['x-hubspot-request-timestamp']);
  if (!signature || !Number.isFinite(timestamp)) throw new WebhookSignatureError('missing X-HubSpot-Signature-v3 or X-HubSpot-Request-Timestamp');
  if (Math.abs(now - timestamp) > MAX_AGE_MS) throw new WebhookSignatureError('webhook timestamp outside the 5-minute window');
  const body = request.rawBody.toString('utf8');
  const expected = Signature.getSignature(request.method.toUpperCase(), 'v3', {
    signature, clientSecret, requestBody: body, url: hubSpotSignedUri(request.url), timestamp,
  });
  const a = Buffer.from(signature);
  const b = Buffer.from(expected);
  if (a.length !== b.length || !timingSafeEqual(a, b)) throw new WebhookSignatureError('webhook signature does not match');
  let events: unknown;
  try {
    events = JSON.parse(body);
  } catch {
    throw new WebhookSignatureError('signed webhook body is not JSON');
  }
  if (!Array.isArray(events)) return [];
  return events.flatMap((e: unknown) => toChange(e));
}

/**
 * HubSpot signs the URI with some percent-escapes decoded (its v3 docs list them); decoding those keeps a URL that
 * our router saw escaped comparable with what HubSpot signed.
 */
function hubSpotSignedUri(url: string): string {
  const decoded: Record<string, string> = { '%3A': ':', '%2F': '/', '%3F': '?', '%40': '@', '%21': '!', '%24': '$', '%27': "'", '%28': '(', '%29': ')', '%2A': '*', '%2C': ',', '%3B': ';' };
  return url.replace(/%3A|%2F|%3F|%40|%21|%24|%27|%28|%29|%2A|%2C|%3B/gi, (m) => decoded[m.toUpperCase()] ?? m);
}

/**
 * One notice per event. An `*.associationChange` event has no `objectId`: its record is `fromObjectId` (a contact
 * whose company changed is re-read, and so gets its new account).
 */
function toChange(e: unknown): RemoteChangeEvent<CrmKind>[] {
  if (typeof e !== 'object' || e === null) return [];
  const { eventId, subscriptionType, occurredAt, fromObjectId } = e as Record<string, unknown>;
  const objectId = (e as Record<string, unknown>)['objectId'] ?? fromObjectId;
  if (typeof subscriptionType !== 'string' || (typeof objectId !== 'number' && typeof objectId !== 'string')) return [];
  const [object, action] = subscriptionType.split('.');
  const kind = KIND_OF[object ?? ''];
  const change = CHANGE_OF[action ?? ''];
  if (!kind || !change) return [];
  return [{
    eventId: String(eventId),
    kind,
    remoteId: String(objectId),
    change,
    occurredAt: new Date(typeof occurredAt === 'number' ? occurredAt : Date.now()).toISOString(),
  }];
}
