-- Every mutation through the gateway: who, which tenant, what (arguments with secrets redacted), outcome.
CREATE TABLE sync.audit_log (
  id bigserial PRIMARY KEY,
  tenant_id text NOT NULL,
  principal text NOT NULL,
  token_kind text NOT NULL,
  operation_name text,
  fields text[] NOT NULL,
  arguments jsonb NOT NULL,
  outcome text NOT NULL,
  error_codes text[] NOT NULL DEFAULT '{}',
  correlation_id text NOT NULL,
  at timestamptz NOT NULL DEFAULT now()
)
--;;
CREATE INDEX audit_log_tenant ON sync.audit_log (tenant_id, id)
