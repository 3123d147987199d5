import type { Queryable } from '../../../lib/db/db';
import type { SyncEventModel } from '../ledger/models';
import { EVENT_TYPES, type PartnerEventKind } from './models';

/** Which endpoint kind an event belongs to: job events are SYNC_JOB_STATE, status events carry their own kind. */
export function partnerKindOf(e: Pick<SyncEventModel, 'jobId' | 'kind'>): PartnerEventKind | null {
  if (e.jobId !== null) return 'SYNC_JOB_STATE';
  return e.kind === 'INVOICE_STATUS' || e.kind === 'SUBSCRIPTION_STATUS' ? e.kind : null;
}

/** The message body partners receive (`type`, `timestamp`, `data`, the shape the Standard Webhooks spec suggests). */
export function messageBody(e: SyncEventModel, kind: PartnerEventKind): string {
  return JSON.stringify({
    type: EVENT_TYPES[kind],
    timestamp: e.at,
    data: {
      eventId: e.eventId, tenant: e.tenant, kind: e.kind, jobId: e.jobId, entityType: e.entityType, entityId: e.entityId,
      targetSystem: e.targetSystem, state: e.state, attempts: e.attempts, errorCode: e.errorCode, message: e.message,
      correlationId: e.correlationId, at: e.at,
    },
  });
}

/**
 * The partner-webhook outbox: called by the relay in the transaction that gives events their public id, so each
 * sequenced event becomes one delivery per enabled endpoint of the same tenant subscribed to its kind, exactly once:
 * the relay numbers an event once (its transaction commits both or neither), and (endpoint, event id) is unique.
 * The join on the tenant is what keeps one tenant's events away from another tenant's endpoints.
 */
export async function enqueuePartnerDeliveries(tx: Queryable, events: readonly SyncEventModel[]): Promise<number> {
  const rows = events.flatMap((e) => {
    const kind = partnerKindOf(e);
    return kind ? [{ e, kind }] : [];
  });
  if (rows.length === 0) return 0;
  const inserted = await tx.query(
    `INSERT INTO sync.partner_webhook_deliveries (id, tenant_id, endpoint_id, event_id, event_type, body)
     SELECT 'msg_' || replace(gen_random_uuid()::text, '-', ''), e.tenant, p.id, e.event_id, e.type, e.body
     FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[]) AS e(tenant, event_id, kind, type, body)
     JOIN sync.partner_webhook_endpoints p ON p.tenant_id = e.tenant AND p.enabled AND e.kind = ANY(p.event_kinds)
     ON CONFLICT (endpoint_id, event_id) DO NOTHING
     RETURNING id`,
    [rows.map((r) => r.e.tenant), rows.map((r) => r.e.eventId), rows.map((r) => r.kind), rows.map((r) => EVENT_TYPES[r.kind]), rows.map((r) => messageBody(r.e, r.kind))],
  );
  return inserted.length;
}
