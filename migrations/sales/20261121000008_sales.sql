-- Sales: the POS's invoices, their gap-free numbering, and what sales knows of products,
-- customers and stores. Money is BIGINT minor units; quantities NUMERIC(18, 3).

-- Per store: what a tax invoice needs that identity does not know.
CREATE TABLE stores (
    tenant_id   UUID NOT NULL,
    id          UUID NOT NULL,
    -- Up to 4 capitals or digits: the first part of every invoice number.
    code        TEXT NOT NULL CHECK (code ~ '^[A-Z0-9]{1,4}$'),
    state_code  TEXT NOT NULL,
    gstin       TEXT,
    -- The inventory location the store sells from.
    location_id UUID NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, code)
);

-- From catalog.events.v1 (projection `sales-references`).
CREATE TABLE products (
    tenant_id           UUID NOT NULL,
    id                  UUID NOT NULL,
    sku                 TEXT NOT NULL,
    name                TEXT NOT NULL,
    unit_decimals       SMALLINT NOT NULL,
    hsn_code            TEXT,
    gst_rate_bp         INTEGER NOT NULL,
    cess_rate_bp        INTEGER NOT NULL,
    currency            TEXT NOT NULL,
    mrp_minor           BIGINT NOT NULL,
    selling_price_minor BIGINT NOT NULL,
    tax_inclusive       BOOLEAN NOT NULL,
    archived            BOOLEAN NOT NULL DEFAULT false,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, sku)
);
CREATE TABLE barcodes (
    tenant_id  UUID NOT NULL,
    code       TEXT NOT NULL,
    product_id UUID NOT NULL,
    PRIMARY KEY (tenant_id, code)
);

-- From partners.events.v1.
CREATE TABLE customers (
    tenant_id   UUID NOT NULL,
    id          UUID NOT NULL,
    name        TEXT NOT NULL,
    gstin       TEXT,
    -- Where goods are supplied to: shipping state, else billing state.
    state_code  TEXT,
    PRIMARY KEY (tenant_id, id)
);

-- One gap-free series per store, terminal and financial year (April to March).
CREATE TABLE invoice_series (
    tenant_id      UUID NOT NULL,
    store_id       UUID NOT NULL,
    terminal_id    TEXT NOT NULL,
    financial_year INTEGER NOT NULL,
    last_number    BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, store_id, terminal_id, financial_year)
);

CREATE TABLE invoices (
    -- The client's id: a resent invoice is recognized by it.
    id              UUID PRIMARY KEY,
    tenant_id       UUID NOT NULL,
    number          TEXT NOT NULL CHECK (length(number) <= 16),
    store_id        UUID NOT NULL,
    terminal_id     TEXT NOT NULL,
    cashier_id      UUID NOT NULL,
    customer_id     UUID,
    reservation_id  UUID,
    place_of_supply TEXT NOT NULL,
    currency        TEXT NOT NULL,
    subtotal_minor  BIGINT NOT NULL,
    discount_minor  BIGINT NOT NULL,
    taxable_minor   BIGINT NOT NULL,
    tax_minor       BIGINT NOT NULL,
    round_off_minor BIGINT NOT NULL,
    total_minor     BIGINT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('issued', 'voided')),
    issued_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, number)
);
CREATE INDEX invoices_terminal ON invoices (tenant_id, store_id, terminal_id, issued_at);

CREATE TABLE invoice_lines (
    invoice_id       UUID NOT NULL REFERENCES invoices (id),
    line_no          INTEGER NOT NULL,
    tenant_id        UUID NOT NULL,
    product_id       UUID NOT NULL,
    quantity         NUMERIC(18, 3) NOT NULL CHECK (quantity > 0),
    unit_price_minor BIGINT NOT NULL,
    discount_minor   BIGINT NOT NULL,
    taxable_minor    BIGINT NOT NULL,
    gst_rate_bp      INTEGER NOT NULL,
    cgst_minor       BIGINT NOT NULL,
    sgst_minor       BIGINT NOT NULL,
    igst_minor       BIGINT NOT NULL,
    cess_minor       BIGINT NOT NULL,
    total_minor      BIGINT NOT NULL,
    salesperson_id   UUID,
    PRIMARY KEY (invoice_id, line_no)
);

CREATE TABLE invoice_payments (
    invoice_id   UUID NOT NULL REFERENCES invoices (id),
    payment_no   INTEGER NOT NULL,
    tenant_id    UUID NOT NULL,
    mode         TEXT NOT NULL CHECK (mode IN ('cash', 'card', 'upi', 'credit', 'loyalty')),
    -- Loyalty points spent, for mode loyalty.
    points       BIGINT,
    amount_minor BIGINT NOT NULL CHECK (amount_minor > 0),
    tendered_minor BIGINT,
    reference    TEXT,
    PRIMARY KEY (invoice_id, payment_no)
);

SELECT isolate_tenants('stores');
SELECT isolate_tenants('products');
SELECT isolate_tenants('barcodes');
SELECT isolate_tenants('customers');
SELECT isolate_tenants('invoice_series');
SELECT isolate_tenants('invoices');
SELECT isolate_tenants('invoice_lines');
SELECT isolate_tenants('invoice_payments');

-- What has been returned of each invoice line, so no return exceeds what was sold.
ALTER TABLE invoice_lines ADD COLUMN quantity_returned NUMERIC(18, 3) NOT NULL DEFAULT 0
    CHECK (quantity_returned <= quantity);
ALTER TABLE invoices ADD COLUMN voided_by UUID, ADD COLUMN voided_at TIMESTAMPTZ,
    ADD COLUMN void_reason TEXT;

-- Credit notes: a series per store and financial year.
CREATE TABLE credit_note_series (
    tenant_id      UUID NOT NULL,
    store_id       UUID NOT NULL,
    financial_year INTEGER NOT NULL,
    last_number    BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, store_id, financial_year)
);

CREATE TABLE sales_returns (
    id           UUID PRIMARY KEY,
    tenant_id    UUID NOT NULL,
    number       TEXT NOT NULL CHECK (length(number) <= 16),
    invoice_id   UUID NOT NULL REFERENCES invoices (id),
    store_id     UUID NOT NULL,
    terminal_id  TEXT NOT NULL,
    refund_mode  TEXT NOT NULL CHECK (refund_mode IN ('cash', 'card', 'upi', 'credit', 'store_credit')),
    reason       TEXT NOT NULL,
    total_minor  BIGINT NOT NULL,
    processed_by UUID NOT NULL,
    processed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, number)
);

CREATE TABLE sales_return_lines (
    return_id     UUID NOT NULL REFERENCES sales_returns (id),
    line_no       INTEGER NOT NULL,
    tenant_id     UUID NOT NULL,
    quantity      NUMERIC(18, 3) NOT NULL CHECK (quantity > 0),
    restock       BOOLEAN NOT NULL,
    taxable_minor BIGINT NOT NULL,
    cgst_minor    BIGINT NOT NULL,
    sgst_minor    BIGINT NOT NULL,
    igst_minor    BIGINT NOT NULL,
    cess_minor    BIGINT NOT NULL,
    total_minor   BIGINT NOT NULL,
    PRIMARY KEY (return_id, line_no)
);

-- Bills parked at a terminal, resumed or discarded; day close ends the day's.
CREATE TABLE held_bills (
    id          UUID PRIMARY KEY,
    tenant_id   UUID NOT NULL,
    store_id    UUID NOT NULL,
    terminal_id TEXT NOT NULL,
    customer_id UUID,
    note        TEXT,
    lines       JSONB NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('held', 'resumed', 'discarded', 'expired')),
    held_by     UUID NOT NULL,
    held_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX held_bills_terminal ON held_bills (tenant_id, store_id, terminal_id, status);

-- A terminal's closed days (Z reports).
CREATE TABLE day_closes (
    tenant_id    UUID NOT NULL,
    store_id     UUID NOT NULL,
    terminal_id  TEXT NOT NULL,
    day          DATE NOT NULL,
    report       JSONB NOT NULL,
    closed_by    UUID NOT NULL,
    closed_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, store_id, terminal_id, day)
);

SELECT isolate_tenants('credit_note_series');
SELECT isolate_tenants('sales_returns');
SELECT isolate_tenants('sales_return_lines');
SELECT isolate_tenants('held_bills');
SELECT isolate_tenants('day_closes');
