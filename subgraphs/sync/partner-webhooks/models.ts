/** Which events an endpoint hears: job state changes, or a business status (lib/outbox.ts `StatusEventKind`). */
export const EVENT_KINDS = ['SYNC_JOB_STATE', 'INVOICE_STATUS', 'SUBSCRIPTION_STATUS'] as const;
export type PartnerEventKind = (typeof EVENT_KINDS)[number];

/** The `type` of the message body per kind (Standard Webhooks: a full-stop delimited event type). */
export const EVENT_TYPES: Readonly<Record<PartnerEventKind, string>> = {
  SYNC_JOB_STATE: 'sync_job.state_changed',
  INVOICE_STATUS: 'invoice.status_changed',
  SUBSCRIPTION_STATUS: 'subscription.status_changed',
};

export type DisabledReason = 'MANUAL' | 'FAILURE_STREAK';

export interface EndpointModel {
  id: string;
  tenant: string;
  url: string;
  description: string | null;
  eventKinds: PartnerEventKind[];
  enabled: boolean;
  disabledReason: DisabledReason | null;
  disabledAt: string | null;
  failureStreak: number;
  secretRotatedAt: string | null;
  previousSecretExpiresAt: string | null;
  lastSuccessAt: string | null;
  lastFailureAt: string | null;
  createdAt: string;
  updatedAt: string;
}

export type DeliveryState = 'PENDING' | 'SENDING' | 'SUCCEEDED' | 'FAILED' | 'GAVE_UP';

export interface DeliveryModel {
  /** The `webhook-id` of every attempt. */
  id: string;
  /** Insertion order: the delivery log's cursor. */
  seq: string;
  tenant: string;
  endpointId: string;
  eventId: string;
  eventType: string;
  body: string;
  state: DeliveryState;
  attempts: number;
  nextAttemptAt: string | null;
  lastStatusCode: number | null;
  lastError: string | null;
  deliveredAt: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface AttemptModel {
  id: string;
  deliveryId: string;
  attempt: number;
  startedAt: string;
  finishedAt: string | null;
  statusCode: number | null;
  error: string | null;
  retryAfterMs: number | null;
}

/** An endpoint with the secret just made: returned once, on creation and rotation, never again. */
export interface EndpointWithSecret {
  endpoint: EndpointModel;
  secret: string;
}
