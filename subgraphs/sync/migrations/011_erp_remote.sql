-- Connectors II, Odoo side (issue 13). Numbered 011 as assigned to this stream; it only adds tables, so it applies
-- cleanly after 012-015 on a database that already has those.

-- Who polls a connection right now: a lease taken and released in short transactions, so the schedule holds no
-- transaction open while it talks to a vendor, and two engines never poll one connection at once.
CREATE TABLE IF NOT EXISTS sync.poll_leases (
  connection_id text PRIMARY KEY REFERENCES sync.connections (id),
  holder text NOT NULL,
  leased_until timestamptz NOT NULL
)
--;;
-- Vendor records seen but not mirrored, because what they hang on is not ours (an Odoo invoice whose partner is
-- linked to no account): kept until a re-read mirrors them, reported by reconciliation meanwhile.
CREATE TABLE IF NOT EXISTS sync.remote_unmatched (
  connection_id text NOT NULL REFERENCES sync.connections (id),
  kind text NOT NULL,
  remote_id text NOT NULL,
  tenant_id text NOT NULL,
  -- The vendor record it hangs on (an invoice's partner): linking that one re-reads this one.
  parent_remote_id text,
  reason text NOT NULL,
  seen_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (connection_id, kind, remote_id)
)
--;;
CREATE INDEX IF NOT EXISTS remote_unmatched_parent ON sync.remote_unmatched (connection_id, parent_remote_id)
