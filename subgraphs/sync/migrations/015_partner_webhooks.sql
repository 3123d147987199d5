-- Webhooks to partners (issue 16 item 5). A tenant admin registers endpoints; every relayed event of the tenant whose
-- kind an enabled endpoint subscribes to becomes one delivery row per endpoint, inserted in the relay's transaction
-- (engine/relay.ts): the durable outbox the delivery workers claim from. The signing secret is sealed like connection
-- credentials (lib/connectors/secret-box.ts); the previous one stays valid until `previous_secret_expires_at`.
CREATE TABLE sync.partner_webhook_endpoints (
  id text PRIMARY KEY,
  tenant_id text NOT NULL,
  url text NOT NULL,
  description text,
  event_kinds text[] NOT NULL,
  enabled boolean NOT NULL DEFAULT true,
  disabled_reason text CHECK (disabled_reason IN ('MANUAL', 'FAILURE_STREAK')),
  disabled_at timestamptz,
  failure_streak int NOT NULL DEFAULT 0,
  secret jsonb NOT NULL,
  previous_secret jsonb,
  previous_secret_expires_at timestamptz,
  secret_rotated_at timestamptz,
  last_success_at timestamptz,
  last_failure_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
)
--;;
CREATE INDEX partner_webhook_endpoints_tenant ON sync.partner_webhook_endpoints (tenant_id, created_at, id)
--;;
-- One message to one endpoint. `id` is the Standard Webhooks `webhook-id`: the same on every attempt and on replays.
-- The body is fixed when the row is written, so every attempt signs and sends the same bytes.
CREATE TABLE sync.partner_webhook_deliveries (
  id text PRIMARY KEY,
  -- Insertion order, for the delivery log's pages (ids are random).
  seq bigserial NOT NULL,
  tenant_id text NOT NULL,
  endpoint_id text NOT NULL REFERENCES sync.partner_webhook_endpoints (id) ON DELETE CASCADE,
  -- The event's public id (sync.events.seq, per tenant; the endpoint belongs to one tenant).
  event_id bigint NOT NULL,
  event_type text NOT NULL,
  body text NOT NULL,
  state text NOT NULL DEFAULT 'PENDING' CHECK (state IN ('PENDING', 'SENDING', 'SUCCEEDED', 'FAILED', 'GAVE_UP')),
  attempts int NOT NULL DEFAULT 0,
  -- Attempts made before the last replay: a replay gets a fresh budget of attempts.
  attempts_base int NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  locked_by text,
  locked_until timestamptz,
  last_status_code int,
  last_error text,
  delivered_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  -- An event reaches an endpoint once, however often the relay's batch is retried.
  UNIQUE (endpoint_id, event_id)
)
--;;
-- The claim walks each enabled endpoint's unfinished deliveries in due order.
CREATE INDEX partner_webhook_deliveries_due ON sync.partner_webhook_deliveries (endpoint_id, next_attempt_at, seq) WHERE state IN ('PENDING', 'FAILED', 'SENDING')
--;;
CREATE INDEX partner_webhook_deliveries_sending ON sync.partner_webhook_deliveries (locked_until) WHERE state = 'SENDING'
--;;
CREATE INDEX partner_webhook_deliveries_finished ON sync.partner_webhook_deliveries (updated_at) WHERE state IN ('SUCCEEDED', 'GAVE_UP')
--;;
CREATE INDEX partner_webhook_deliveries_endpoint ON sync.partner_webhook_deliveries (tenant_id, endpoint_id, seq)
--;;
-- Each HTTP attempt. `finished_at` stays null for an attempt whose worker died mid-request (the lease then expires
-- and another worker sends the same message again).
CREATE TABLE sync.partner_webhook_attempts (
  id bigserial PRIMARY KEY,
  delivery_id text NOT NULL REFERENCES sync.partner_webhook_deliveries (id) ON DELETE CASCADE,
  tenant_id text NOT NULL,
  attempt int NOT NULL,
  worker text NOT NULL,
  started_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  status_code int,
  error text,
  retry_after_ms int
)
--;;
CREATE INDEX partner_webhook_attempts_delivery ON sync.partner_webhook_attempts (delivery_id, id)
