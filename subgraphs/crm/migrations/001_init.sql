CREATE SCHEMA IF NOT EXISTS crm
--;;
CREATE TABLE crm.accounts (
  id text PRIMARY KEY,
  tenant_id text NOT NULL,
  remote_id text NOT NULL,
  name text NOT NULL,
  domain text,
  industry text,
  lifecycle_stage text NOT NULL,
  billing_address jsonb,
  owner text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, remote_id)
)
--;;
CREATE INDEX accounts_tenant_id ON crm.accounts (tenant_id, id)
--;;
CREATE TABLE crm.contacts (
  id text PRIMARY KEY,
  tenant_id text NOT NULL,
  account_id text NOT NULL REFERENCES crm.accounts (id),
  remote_id text NOT NULL,
  first_name text NOT NULL,
  last_name text NOT NULL,
  email text NOT NULL,
  phone text,
  title text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
)
--;;
CREATE INDEX contacts_tenant_account ON crm.contacts (tenant_id, account_id, id)
--;;
CREATE TABLE crm.opportunities (
  id text PRIMARY KEY,
  tenant_id text NOT NULL,
  account_id text NOT NULL REFERENCES crm.accounts (id),
  remote_id text NOT NULL,
  name text NOT NULL,
  stage text NOT NULL,
  amount_minor bigint NOT NULL,
  currency char(3) NOT NULL,
  close_date date,
  plan_code text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
)
--;;
CREATE INDEX opportunities_tenant_account ON crm.opportunities (tenant_id, account_id, id)
--;;
-- Links from a CRM record to the ids the same record has in other systems (maintained by sync).
CREATE TABLE crm.external_ids (
  tenant_id text NOT NULL,
  entity_id text NOT NULL,
  system text NOT NULL,
  remote_id text NOT NULL,
  remote_updated_at timestamptz,
  PRIMARY KEY (tenant_id, entity_id, system)
)
