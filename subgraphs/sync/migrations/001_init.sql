CREATE SCHEMA IF NOT EXISTS sync
--;;
-- The sync ledger and transactional outbox: a system-of-record write inserts its job here in the same transaction.
CREATE TABLE sync.jobs (
  id text PRIMARY KEY,
  tenant_id text NOT NULL,
  kind text NOT NULL,
  entity_type text NOT NULL,
  entity_id text NOT NULL,
  source_system text NOT NULL,
  target_system text,
  state text NOT NULL CHECK (state IN ('PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED', 'DEAD_LETTERED', 'CANCELLED', 'COMPENSATED')),
  attempts int NOT NULL DEFAULT 0,
  max_attempts int NOT NULL DEFAULT 5,
  next_run_at timestamptz NOT NULL DEFAULT now(),
  locked_by text,
  locked_until timestamptz,
  last_error_code text,
  last_error_message text,
  correlation_id text NOT NULL,
  idempotency_key text NOT NULL,
  payload jsonb NOT NULL DEFAULT '{}'::jsonb,
  result text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, idempotency_key)
)
--;;
CREATE INDEX jobs_runnable ON sync.jobs (next_run_at) WHERE state IN ('PENDING', 'FAILED')
--;;
CREATE INDEX jobs_running ON sync.jobs (locked_until) WHERE state = 'RUNNING'
--;;
CREATE INDEX jobs_tenant ON sync.jobs (tenant_id, id)
--;;
CREATE INDEX jobs_tenant_entity ON sync.jobs (tenant_id, entity_id)
--;;
-- Every state change of every job. `seq` is the public, gap-free event id per tenant: assigned by the single relay in commit
-- order (see engine/relay.ts), so "after <eventId>" never skips an event committed later with a smaller id.
CREATE TABLE sync.events (
  id bigserial PRIMARY KEY,
  seq bigint,
  tenant_id text NOT NULL,
  job_id text NOT NULL REFERENCES sync.jobs (id),
  kind text NOT NULL,
  entity_type text NOT NULL,
  entity_id text NOT NULL,
  target_system text,
  state text NOT NULL,
  attempts int NOT NULL,
  error_code text,
  message text,
  correlation_id text NOT NULL,
  at timestamptz NOT NULL DEFAULT now()
)
--;;
CREATE INDEX events_unsequenced ON sync.events (id) WHERE seq IS NULL
--;;
CREATE UNIQUE INDEX events_tenant_seq ON sync.events (tenant_id, seq)
--;;
CREATE INDEX events_job ON sync.events (job_id, id)
--;;
-- Where each entity stands in each target system (Account.syncStatus).
CREATE TABLE sync.links (
  tenant_id text NOT NULL,
  entity_type text NOT NULL,
  entity_id text NOT NULL,
  system text NOT NULL,
  remote_id text,
  state text NOT NULL,
  last_synced_at timestamptz,
  last_error text,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, entity_type, entity_id, system)
)
--;;
CREATE TABLE sync.reconciliations (
  id text PRIMARY KEY,
  tenant_id text NOT NULL,
  started_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  accounts_checked int NOT NULL DEFAULT 0,
  drift jsonb NOT NULL DEFAULT '[]'::jsonb
)
--;;
CREATE INDEX reconciliations_tenant ON sync.reconciliations (tenant_id, started_at DESC)
--;;
-- Idempotency-Key store for mutations through the gateway (kept 24 h at least).
CREATE TABLE sync.idempotency_keys (
  tenant_id text NOT NULL,
  principal text NOT NULL,
  key text NOT NULL,
  request_hash text NOT NULL,
  status int,
  response text,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, principal, key)
)
