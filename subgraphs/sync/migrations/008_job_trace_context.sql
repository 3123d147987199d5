-- Observability (issue 14). Numbered 008 to stay clear of the connector migrations landing in parallel (004-007).
-- The W3C traceparent of the request that enqueued a job: the job's spans join that trace and link to it.
ALTER TABLE sync.jobs ADD COLUMN IF NOT EXISTS trace_context text
--;;
-- /metrics reads jobs by state at every scrape: a partial index keeps that an index-only scan of the unfinished jobs,
-- however many SUCCEEDED jobs the ledger holds.
CREATE INDEX IF NOT EXISTS jobs_unfinished_state ON sync.jobs (state, kind, target_system, created_at) WHERE state <> 'SUCCEEDED'
