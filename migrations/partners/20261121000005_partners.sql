-- Partners: customers and vendors, payments, loyalty, and the partner ledgers built from
-- the topics. Money is BIGINT minor units of the row's currency.

CREATE TABLE customers (
    id                 UUID PRIMARY KEY,
    tenant_id          UUID NOT NULL,
    name               TEXT NOT NULL,
    -- E.164; the POS finds customers by phone.
    phone              TEXT NOT NULL,
    email              TEXT,
    gstin              TEXT,
    billing_address    JSONB,
    shipping_address   JSONB,
    customer_group     TEXT,
    currency           TEXT NOT NULL,
    credit_limit_minor BIGINT NOT NULL DEFAULT 0 CHECK (credit_limit_minor >= 0),
    payment_terms_days INTEGER NOT NULL DEFAULT 0 CHECK (payment_terms_days BETWEEN 0 AND 365),
    version            INTEGER NOT NULL DEFAULT 1,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, phone)
);
CREATE INDEX customers_name ON customers (tenant_id, lower(name));

CREATE TABLE vendors (
    id                  UUID PRIMARY KEY,
    tenant_id           UUID NOT NULL,
    name                TEXT NOT NULL,
    gstin               TEXT,
    state_code          TEXT NOT NULL,
    contacts            JSONB NOT NULL DEFAULT '[]',
    payment_terms_days  INTEGER NOT NULL DEFAULT 30 CHECK (payment_terms_days BETWEEN 0 AND 365),
    currency            TEXT NOT NULL,
    bank_account_number TEXT,
    bank_ifsc           TEXT,
    bank_name           TEXT,
    version             INTEGER NOT NULL DEFAULT 1,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX vendors_gstin ON vendors (tenant_id, gstin) WHERE gstin IS NOT NULL;
CREATE INDEX vendors_name ON vendors (tenant_id, lower(name));

-- Points per spend and the value of a point, per tenant; defaults when absent.
CREATE TABLE loyalty_rules (
    tenant_id             UUID PRIMARY KEY,
    spend_minor_per_point BIGINT NOT NULL CHECK (spend_minor_per_point > 0),
    point_value_minor     BIGINT NOT NULL CHECK (point_value_minor > 0)
);

-- Payments received from customers and made to vendors, as recorded.
CREATE TABLE payments (
    id           UUID PRIMARY KEY,
    tenant_id    UUID NOT NULL,
    partner_kind TEXT NOT NULL CHECK (partner_kind IN ('customer', 'vendor')),
    partner_id   UUID NOT NULL,
    amount_minor BIGINT NOT NULL CHECK (amount_minor > 0),
    currency     TEXT NOT NULL,
    mode         TEXT NOT NULL,
    reference    TEXT,
    paid_on      DATE NOT NULL,
    recorded_by  UUID NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The partner ledgers (projection `partner-ledgers`): one entry per document that
-- changes what a partner owes or is owed. amount_minor > 0 increases it (a credit sale,
-- a purchase invoice), < 0 decreases it (a payment, a return).
CREATE TABLE ledger_entries (
    id              UUID PRIMARY KEY,
    tenant_id       UUID NOT NULL,
    partner_kind    TEXT NOT NULL CHECK (partner_kind IN ('customer', 'vendor')),
    partner_id      UUID NOT NULL,
    document_type   TEXT NOT NULL,
    document_id     TEXT NOT NULL,
    document_number TEXT,
    entry_date      DATE NOT NULL,
    due_date        DATE NOT NULL,
    amount_minor    BIGINT NOT NULL CHECK (amount_minor <> 0),
    currency        TEXT NOT NULL,
    source_event_id UUID NOT NULL,
    -- The event's time: orders entries of one day as they happened, and is the same
    -- when a rebuild writes the entry again.
    recorded_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX ledger_entries_partner ON ledger_entries (tenant_id, partner_kind, partner_id, entry_date, recorded_at);

-- Loyalty points per customer (projection `partner-ledgers` for points earned; the API
-- for points redeemed, which must be checked against the balance at once).
CREATE TABLE loyalty_entries (
    id          UUID PRIMARY KEY,
    tenant_id   UUID NOT NULL,
    customer_id UUID NOT NULL,
    points      BIGINT NOT NULL CHECK (points <> 0),
    reason      TEXT NOT NULL CHECK (reason IN ('earned', 'redeemed', 'reversed')),
    reference   TEXT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX loyalty_entries_customer ON loyalty_entries (tenant_id, customer_id);

SELECT isolate_tenants('customers');
SELECT isolate_tenants('vendors');
SELECT isolate_tenants('loyalty_rules');
SELECT isolate_tenants('payments');
SELECT isolate_tenants('ledger_entries');
SELECT isolate_tenants('loyalty_entries');
