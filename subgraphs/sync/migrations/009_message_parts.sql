-- Issue 11 item 12: messages a job records keep their values classified (lib/scoped-message.ts). The text columns
-- hold what every reader may see; these hold the parts, each value tagged with its systems, rendered per reader.
ALTER TABLE sync.jobs ADD COLUMN IF NOT EXISTS last_error_parts jsonb
--;;
ALTER TABLE sync.events ADD COLUMN IF NOT EXISTS message_parts jsonb
--;;
ALTER TABLE sync.links ADD COLUMN IF NOT EXISTS last_error_parts jsonb
