-- Who writes one record's vendor counterpart right now (Connectors II gap: two jobs creating one account's Odoo
-- partner at once made two, Odoo having no unique key on our id). A lease, taken and released in one statement each
-- around the vendor write; one left by a worker that died runs out by itself.
CREATE TABLE IF NOT EXISTS sync.remote_write_leases (
  connection_id text NOT NULL REFERENCES sync.connections (id),
  entity_type text NOT NULL,
  canonical_id text NOT NULL,
  tenant_id text NOT NULL,
  holder text NOT NULL,
  leased_until timestamptz NOT NULL,
  PRIMARY KEY (connection_id, entity_type, canonical_id)
)
