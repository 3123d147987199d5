-- Connectors II (issue 13): per-tenant mapped vendor fields of an account (`customFields`), and the raw vendor record
-- behind each external id (`remoteData`, admin scope).
ALTER TABLE crm.accounts ADD COLUMN IF NOT EXISTS custom_fields jsonb NOT NULL DEFAULT '{}'::jsonb
--;;
ALTER TABLE crm.external_ids ADD COLUMN IF NOT EXISTS remote_data jsonb
