-- Connectors II (issue 13): the raw vendor record of each linked record (its `remoteData`), and durable polling
-- cursors, one per connection and kind of record.
ALTER TABLE sync.remote_links ADD COLUMN IF NOT EXISTS remote_data jsonb
--;;
-- Where incremental polling of a connection stands for one kind of record (the adapter's opaque cursor). Written in
-- the transaction that enqueues the page's REMOTE_CHANGE jobs, so it never runs ahead of the ledger.
CREATE TABLE IF NOT EXISTS sync.poll_cursors (
  connection_id text NOT NULL REFERENCES sync.connections (id),
  kind text NOT NULL,
  tenant_id text NOT NULL,
  cursor text NOT NULL,
  records_seen bigint NOT NULL DEFAULT 0,
  polled_at timestamptz NOT NULL DEFAULT now(),
  -- Set once a read that has an end (an initial sync, kind `initial:<job id>:<kind>`) reached it.
  finished_at timestamptz,
  PRIMARY KEY (connection_id, kind)
)
--;;
-- Children of an initial sync (REMOTE_PAGE jobs) by their parent, for its progress.
CREATE INDEX IF NOT EXISTS jobs_parent ON sync.jobs ((payload->>'parentJobId')) WHERE kind = 'REMOTE_PAGE'
