-- Incremental reads (issue 16 item 6): lists filter by `updatedAfter` and page in UPDATED_AT order by
-- (update time to the millisecond in UTC, id), the expression lib/db/sql.ts updateKey() writes; these indexes serve both.
CREATE INDEX IF NOT EXISTS accounts_tenant_updated ON crm.accounts (tenant_id, (date_trunc('milliseconds', updated_at AT TIME ZONE 'UTC')), id)
--;;
CREATE INDEX IF NOT EXISTS contacts_tenant_updated ON crm.contacts (tenant_id, (date_trunc('milliseconds', updated_at AT TIME ZONE 'UTC')), id)
--;;
CREATE INDEX IF NOT EXISTS opportunities_tenant_updated ON crm.opportunities (tenant_id, (date_trunc('milliseconds', updated_at AT TIME ZONE 'UTC')), id)
