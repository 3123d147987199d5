-- Invoices issued by billing for a subscription period, and payments billing collected against them. Sync posts
-- them to the ERP ledger (INVOICE_POST, PAYMENT_APPLY) under the same canonical ids.
CREATE TABLE billing.invoices (
  tenant_id text NOT NULL,
  id text NOT NULL,
  subscription_id text NOT NULL,
  account_id text NOT NULL,
  currency char(3) NOT NULL,
  amount_minor bigint NOT NULL CHECK (amount_minor >= 0),
  amount_paid_minor bigint NOT NULL DEFAULT 0 CHECK (amount_paid_minor >= 0),
  status text NOT NULL CHECK (status IN ('ISSUED', 'PAID', 'VOID')),
  period_start date NOT NULL,
  period_end date NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, subscription_id) REFERENCES billing.subscriptions (tenant_id, id)
)
--;;
CREATE TABLE billing.payments (
  tenant_id text NOT NULL,
  id text NOT NULL,
  invoice_id text NOT NULL,
  amount_minor bigint NOT NULL CHECK (amount_minor > 0),
  currency char(3) NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, invoice_id) REFERENCES billing.invoices (tenant_id, id)
)
