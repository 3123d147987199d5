CREATE SCHEMA IF NOT EXISTS erp
--;;
-- Foreign keys include tenant_id (against UNIQUE (tenant_id, id)) so no row can point at another tenant's record.
-- An ERP customer is the finance view of a CRM account: same canonical id, one row per synced account.
CREATE TABLE erp.customers (
  id text PRIMARY KEY,
  tenant_id text NOT NULL,
  remote_id text NOT NULL,
  name text NOT NULL,
  currency char(3) NOT NULL,
  credit_limit_minor bigint NOT NULL DEFAULT 0 CHECK (credit_limit_minor >= 0),
  credit_status text NOT NULL DEFAULT 'OK' CHECK (credit_status IN ('OK', 'ON_HOLD', 'BLOCKED')),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, remote_id)
)
--;;
CREATE UNIQUE INDEX customers_tenant_id ON erp.customers (tenant_id, id)
--;;
-- Gapless invoice numbers per tenant: the row is locked by the creating transaction until it commits.
CREATE TABLE erp.invoice_counters (
  tenant_id text PRIMARY KEY,
  last_number bigint NOT NULL
)
--;;
CREATE TABLE erp.invoices (
  id text PRIMARY KEY,
  tenant_id text NOT NULL,
  account_id text NOT NULL,
  remote_id text NOT NULL,
  number text NOT NULL,
  status text NOT NULL CHECK (status IN ('DRAFT', 'POSTED', 'PAID', 'VOID')),
  currency char(3) NOT NULL,
  issue_date date,
  due_date date,
  -- Payment terms chosen at creation; the due date is only fixed when the invoice is posted.
  due_in_days int NOT NULL CHECK (due_in_days >= 0),
  subtotal_minor bigint NOT NULL CHECK (subtotal_minor >= 0),
  tax_minor bigint NOT NULL CHECK (tax_minor >= 0),
  total_minor bigint NOT NULL CHECK (total_minor = subtotal_minor + tax_minor),
  amount_due_minor bigint NOT NULL CHECK (amount_due_minor >= 0 AND amount_due_minor <= total_minor),
  lines jsonb NOT NULL,
  void_reason text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, number),
  UNIQUE (tenant_id, remote_id),
  FOREIGN KEY (tenant_id, account_id) REFERENCES erp.customers (tenant_id, id)
)
--;;
CREATE UNIQUE INDEX invoices_tenant_id ON erp.invoices (tenant_id, id)
--;;
CREATE INDEX invoices_tenant_account ON erp.invoices (tenant_id, account_id, id)
--;;
-- Balances sum amount due over POSTED invoices per account.
CREATE INDEX invoices_tenant_account_status ON erp.invoices (tenant_id, account_id, status)
--;;
CREATE TABLE erp.payments (
  id text PRIMARY KEY,
  tenant_id text NOT NULL,
  account_id text NOT NULL,
  remote_id text NOT NULL,
  amount_minor bigint NOT NULL CHECK (amount_minor > 0),
  currency char(3) NOT NULL,
  method text NOT NULL,
  reference text,
  received_at timestamptz NOT NULL DEFAULT now(),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, remote_id),
  FOREIGN KEY (tenant_id, account_id) REFERENCES erp.customers (tenant_id, id)
)
--;;
CREATE UNIQUE INDEX payments_tenant_id ON erp.payments (tenant_id, id)
--;;
CREATE INDEX payments_tenant_account ON erp.payments (tenant_id, account_id, id)
--;;
CREATE TABLE erp.payment_applications (
  tenant_id text NOT NULL,
  payment_id text NOT NULL,
  invoice_id text NOT NULL,
  amount_minor bigint NOT NULL CHECK (amount_minor > 0),
  PRIMARY KEY (tenant_id, payment_id, invoice_id),
  FOREIGN KEY (tenant_id, payment_id) REFERENCES erp.payments (tenant_id, id),
  FOREIGN KEY (tenant_id, invoice_id) REFERENCES erp.invoices (tenant_id, id)
)
--;;
CREATE INDEX payment_applications_tenant_invoice ON erp.payment_applications (tenant_id, invoice_id)
--;;
CREATE TABLE erp.journal_entries (
  id text PRIMARY KEY,
  tenant_id text NOT NULL,
  posted_at timestamptz NOT NULL DEFAULT now(),
  memo text NOT NULL,
  source_type text NOT NULL,
  source_id text NOT NULL,
  currency char(3) NOT NULL
)
--;;
CREATE UNIQUE INDEX journal_entries_tenant_id ON erp.journal_entries (tenant_id, id)
--;;
CREATE INDEX journal_entries_tenant_source ON erp.journal_entries (tenant_id, source_id, id)
--;;
CREATE TABLE erp.journal_lines (
  tenant_id text NOT NULL,
  entry_id text NOT NULL,
  line_no int NOT NULL,
  account_code text NOT NULL,
  debit_minor bigint NOT NULL DEFAULT 0 CHECK (debit_minor >= 0),
  credit_minor bigint NOT NULL DEFAULT 0 CHECK (credit_minor >= 0),
  -- A line is either a debit or a credit, never both.
  CHECK (debit_minor = 0 OR credit_minor = 0),
  PRIMARY KEY (tenant_id, entry_id, line_no),
  FOREIGN KEY (tenant_id, entry_id) REFERENCES erp.journal_entries (tenant_id, id)
)
--;;
-- Double entry enforced by the database, not only by the application: checked at commit (deferred) so the lines
-- of one entry can be written by several statements of the same transaction.
CREATE FUNCTION erp.check_journal_balance() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  changed erp.journal_lines%ROWTYPE;
  debits numeric;
  credits numeric;
BEGIN
  IF TG_OP = 'DELETE' THEN changed := OLD; ELSE changed := NEW; END IF;
  SELECT coalesce(sum(debit_minor), 0), coalesce(sum(credit_minor), 0) INTO debits, credits
    FROM erp.journal_lines WHERE tenant_id = changed.tenant_id AND entry_id = changed.entry_id;
  IF debits <> credits THEN
    RAISE EXCEPTION 'journal entry % does not balance: debits %, credits %', changed.entry_id, debits, credits
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NULL;
END
$$
--;;
CREATE CONSTRAINT TRIGGER journal_lines_balance
  AFTER INSERT OR UPDATE OR DELETE ON erp.journal_lines
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION erp.check_journal_balance()
--;;
-- Links from an ERP record to the ids the same record has in other systems (maintained by sync).
CREATE TABLE erp.external_ids (
  tenant_id text NOT NULL,
  entity_id text NOT NULL,
  system text NOT NULL,
  remote_id text NOT NULL,
  remote_updated_at timestamptz,
  PRIMARY KEY (tenant_id, entity_id, system)
)
