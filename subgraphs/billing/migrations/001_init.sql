CREATE SCHEMA IF NOT EXISTS billing
--;;
-- Keys are (tenant_id, id) everywhere: every lookup is tenant-scoped, and composite foreign keys make it impossible
-- for a row to point at another tenant's record.
-- A billing customer is keyed by the canonical (CRM) account id. name is null when the customer was created
-- implicitly by a subscription: billing does not own account names.
CREATE TABLE billing.customers (
  tenant_id text NOT NULL,
  id text NOT NULL,
  remote_id text NOT NULL,
  name text,
  currency char(3) NOT NULL,
  payment_terms_days int NOT NULL DEFAULT 30 CHECK (payment_terms_days BETWEEN 0 AND 365),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, remote_id)
)
--;;
CREATE TABLE billing.plans (
  tenant_id text NOT NULL,
  id text NOT NULL,
  code text NOT NULL,
  name text NOT NULL,
  active boolean NOT NULL DEFAULT true,
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, code)
)
--;;
-- At most one price per plan, currency and interval: that is how a (planCode, interval) item finds its price.
CREATE TABLE billing.prices (
  tenant_id text NOT NULL,
  id text NOT NULL,
  plan_id text NOT NULL,
  currency char(3) NOT NULL,
  unit_amount_minor bigint NOT NULL CHECK (unit_amount_minor >= 0),
  interval text NOT NULL CHECK (interval IN ('MONTH', 'YEAR')),
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, plan_id, currency, interval),
  FOREIGN KEY (tenant_id, plan_id) REFERENCES billing.plans (tenant_id, id)
)
--;;
-- canceled_at set while status is not CANCELED means a cancellation scheduled for current_period_end.
CREATE TABLE billing.subscriptions (
  tenant_id text NOT NULL,
  id text NOT NULL,
  account_id text NOT NULL,
  remote_id text NOT NULL,
  status text NOT NULL CHECK (status IN ('TRIALING', 'ACTIVE', 'PAST_DUE', 'CANCELED')),
  currency char(3) NOT NULL,
  current_period_start date NOT NULL,
  current_period_end date NOT NULL,
  trial_end date,
  canceled_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, remote_id),
  FOREIGN KEY (tenant_id, account_id) REFERENCES billing.customers (tenant_id, id)
)
--;;
CREATE INDEX subscriptions_tenant_account ON billing.subscriptions (tenant_id, account_id, id)
--;;
CREATE INDEX subscriptions_tenant_status ON billing.subscriptions (tenant_id, status, id)
--;;
CREATE TABLE billing.subscription_items (
  tenant_id text NOT NULL,
  id text NOT NULL,
  subscription_id text NOT NULL,
  plan_id text NOT NULL,
  price_id text NOT NULL,
  quantity int NOT NULL CHECK (quantity BETWEEN 1 AND 10000),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, subscription_id) REFERENCES billing.subscriptions (tenant_id, id),
  FOREIGN KEY (tenant_id, plan_id) REFERENCES billing.plans (tenant_id, id),
  FOREIGN KEY (tenant_id, price_id) REFERENCES billing.prices (tenant_id, id)
)
--;;
CREATE INDEX subscription_items_tenant_subscription ON billing.subscription_items (tenant_id, subscription_id, id)
--;;
-- Serves the planCode filter of billingSubscriptions (the subscriptions that have an item of a plan).
CREATE INDEX subscription_items_tenant_plan ON billing.subscription_items (tenant_id, plan_id, subscription_id)
--;;
-- The billing side of an ERP invoice (invoice_id is the ERP's canonical invoice id): which subscription and
-- period it bills. No row means the invoice was not raised by billing.
CREATE TABLE billing.invoice_links (
  tenant_id text NOT NULL,
  invoice_id text NOT NULL,
  subscription_id text NOT NULL,
  period_start date NOT NULL,
  period_end date NOT NULL,
  PRIMARY KEY (tenant_id, invoice_id),
  FOREIGN KEY (tenant_id, subscription_id) REFERENCES billing.subscriptions (tenant_id, id)
)
--;;
CREATE INDEX invoice_links_tenant_subscription ON billing.invoice_links (tenant_id, subscription_id)
--;;
-- Links from a billing record to the ids the same record has in other systems (maintained by sync).
CREATE TABLE billing.external_ids (
  tenant_id text NOT NULL,
  entity_id text NOT NULL,
  system text NOT NULL,
  remote_id text NOT NULL,
  remote_updated_at timestamptz,
  PRIMARY KEY (tenant_id, entity_id, system)
)
