-- Incremental reads (issue 16 item 6): see crm/migrations/003.
CREATE INDEX IF NOT EXISTS subscriptions_tenant_updated ON billing.subscriptions (tenant_id, (date_trunc('milliseconds', updated_at AT TIME ZONE 'UTC')), id)
