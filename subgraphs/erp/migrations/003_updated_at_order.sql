-- Incremental reads (issue 16 item 6): see crm/migrations/003. Journal entries never change: their posting time is
-- their update time.
CREATE INDEX IF NOT EXISTS invoices_tenant_updated ON erp.invoices (tenant_id, (date_trunc('milliseconds', updated_at AT TIME ZONE 'UTC')), id)
--;;
CREATE INDEX IF NOT EXISTS payments_tenant_updated ON erp.payments (tenant_id, (date_trunc('milliseconds', updated_at AT TIME ZONE 'UTC')), id)
--;;
CREATE INDEX IF NOT EXISTS journal_entries_tenant_posted ON erp.journal_entries (tenant_id, (date_trunc('milliseconds', posted_at AT TIME ZONE 'UTC')), id)
