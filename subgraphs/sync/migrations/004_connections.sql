-- A connection is a tenant's choice of adapter for one system of record, with its settings and credentials.
-- Credentials are an AES-256-GCM envelope (lib/connectors/secret-box.ts), never plain text; only a fingerprint and
-- the last four characters are kept beside them for display. At most one enabled connection per tenant and system;
-- disabled ones stay for history. `id` is global: webhooks address a connection by id alone.
CREATE TABLE sync.connections (
  id text PRIMARY KEY,
  tenant_id text NOT NULL,
  system text NOT NULL CHECK (system IN ('CRM', 'ERP', 'BILLING')),
  adapter text NOT NULL,
  settings jsonb NOT NULL DEFAULT '{}'::jsonb,
  credentials jsonb,
  credentials_key_id text,
  credentials_fingerprint text,
  credentials_last4 text,
  credentials_rotated_at timestamptz,
  enabled boolean NOT NULL DEFAULT true,
  state text NOT NULL DEFAULT 'OK' CHECK (state IN ('OK', 'DEGRADED', 'AUTH_ERROR', 'CIRCUIT_OPEN')),
  last_error text,
  last_error_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
)
--;;
CREATE UNIQUE INDEX connections_enabled_per_system ON sync.connections (tenant_id, system) WHERE enabled
--;;
CREATE INDEX connections_key_id ON sync.connections (credentials_key_id)
--;;
-- Vendor events as received (webhooks), stored before the 2xx and deduplicated by the vendor's event id. Each one
-- becomes a REMOTE_CHANGE ledger job in the same transaction; the job re-reads the record by id, so the payload is
-- kept for audit only and its order does not matter.
CREATE TABLE sync.remote_events (
  connection_id text NOT NULL REFERENCES sync.connections (id),
  event_id text NOT NULL,
  tenant_id text NOT NULL,
  type text NOT NULL,
  object_type text NOT NULL,
  object_id text NOT NULL,
  payload jsonb NOT NULL,
  job_id text,
  received_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (connection_id, event_id)
)
--;;
-- Which vendor record each of our records became, per connection (the remote side of externalIds). A write job
-- looks here first, so a record is created at the vendor once; the vendor's idempotency key covers the crash
-- between the vendor's answer and this insert.
CREATE TABLE sync.remote_links (
  connection_id text NOT NULL REFERENCES sync.connections (id),
  entity_type text NOT NULL,
  canonical_id text NOT NULL,
  tenant_id text NOT NULL,
  remote_id text NOT NULL,
  remote_updated_at timestamptz,
  PRIMARY KEY (connection_id, entity_type, canonical_id)
)
--;;
CREATE INDEX remote_links_remote ON sync.remote_links (connection_id, entity_type, remote_id)
