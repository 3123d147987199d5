-- Incremental reads (issue 16 item 6): see crm/migrations/003.
CREATE INDEX IF NOT EXISTS jobs_tenant_updated ON sync.jobs (tenant_id, (date_trunc('milliseconds', updated_at AT TIME ZONE 'UTC')), id)
--;;
-- Persisted operations (issue 16 item 2): a partner application's registered operations per tenant, as an Apollo
-- persisted-query manifest. A row in partner_operation_lists means "this partner has a list" (possibly empty: then it
-- may send nothing); the gateway reads both (gateway/trusted-documents.ts).
CREATE TABLE IF NOT EXISTS sync.partner_operation_lists (
  tenant_id text NOT NULL,
  partner text NOT NULL,
  registered_at timestamptz NOT NULL DEFAULT now(),
  registered_by text NOT NULL,
  PRIMARY KEY (tenant_id, partner)
)
--;;
CREATE TABLE IF NOT EXISTS sync.partner_operations (
  tenant_id text NOT NULL,
  partner text NOT NULL,
  id text NOT NULL,
  name text NOT NULL,
  type text NOT NULL,
  body text NOT NULL,
  normalized_hash text NOT NULL,
  PRIMARY KEY (tenant_id, partner, id),
  FOREIGN KEY (tenant_id, partner) REFERENCES sync.partner_operation_lists (tenant_id, partner) ON DELETE CASCADE
)
