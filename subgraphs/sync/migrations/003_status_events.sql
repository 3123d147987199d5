-- Business status events (an invoice posted, a subscription canceled) share the ledger and the per-tenant event ids
-- with job events, so one relay numbers and publishes both and subscribers resume from one id. They have no job.
ALTER TABLE sync.events ALTER COLUMN job_id DROP NOT NULL
