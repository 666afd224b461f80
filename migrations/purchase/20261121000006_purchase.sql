-- Purchase: purchase orders, goods receipts, vendor invoices matched three ways, returns
-- to vendors, vendor prices; and what purchase knows of vendors, products and stock,
-- from the topics (projection `purchase-references`). Money is BIGINT minor units.

-- From partners.events.v1.
CREATE TABLE vendors (
    tenant_id          UUID NOT NULL,
    id                 UUID NOT NULL,
    name               TEXT NOT NULL,
    state_code         TEXT NOT NULL,
    payment_terms_days INTEGER NOT NULL,
    currency           TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

-- From catalog.events.v1.
CREATE TABLE products (
    tenant_id     UUID NOT NULL,
    id            UUID NOT NULL,
    sku           TEXT NOT NULL,
    name          TEXT NOT NULL,
    unit_decimals SMALLINT NOT NULL,
    gst_rate_bp   INTEGER NOT NULL,
    cess_rate_bp  INTEGER NOT NULL,
    reorder_level NUMERIC(18, 3),
    archived      BOOLEAN NOT NULL DEFAULT false,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, sku)
);

-- From inventory.stock.moved: stock per location and product, and what sold per day.
CREATE TABLE stock_positions (
    tenant_id   UUID NOT NULL,
    location_id UUID NOT NULL,
    product_id  UUID NOT NULL,
    on_hand     NUMERIC(18, 3) NOT NULL,
    last_seq    BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, location_id, product_id)
);
CREATE TABLE daily_sales (
    tenant_id   UUID NOT NULL,
    location_id UUID NOT NULL,
    product_id  UUID NOT NULL,
    day         DATE NOT NULL,
    quantity    NUMERIC(18, 3) NOT NULL,
    PRIMARY KEY (tenant_id, location_id, product_id, day)
);

-- Per tenant: the next number of each document series.
CREATE TABLE document_series (
    tenant_id UUID NOT NULL,
    series    TEXT NOT NULL CHECK (series IN ('PO', 'GRN', 'DN')),
    next      BIGINT NOT NULL DEFAULT 1,
    PRIMARY KEY (tenant_id, series)
);

CREATE TABLE purchase_orders (
    id              UUID PRIMARY KEY,
    tenant_id       UUID NOT NULL,
    number          TEXT NOT NULL,
    vendor_id       UUID NOT NULL,
    location_id     UUID NOT NULL,
    -- GST state of delivery: against the vendor's state it decides CGST+SGST or IGST.
    place_of_supply TEXT NOT NULL,
    currency        TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('draft', 'approved', 'partially_received',
                        'received', 'closed', 'cancelled')),
    expected_on     DATE,
    taxable_minor   BIGINT NOT NULL,
    tax_minor       BIGINT NOT NULL,
    total_minor     BIGINT NOT NULL,
    created_by      UUID NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    approved_by     UUID,
    approved_at     TIMESTAMPTZ,
    closed_reason   TEXT,
    UNIQUE (tenant_id, number),
    FOREIGN KEY (tenant_id, vendor_id) REFERENCES vendors (tenant_id, id)
);

CREATE TABLE po_lines (
    po_id             UUID NOT NULL REFERENCES purchase_orders (id),
    line_no           INTEGER NOT NULL,
    tenant_id         UUID NOT NULL,
    product_id        UUID NOT NULL,
    quantity          NUMERIC(18, 3) NOT NULL CHECK (quantity > 0),
    unit_price_minor  BIGINT NOT NULL CHECK (unit_price_minor >= 0),
    gst_rate_bp       INTEGER NOT NULL,
    cess_rate_bp      INTEGER NOT NULL,
    taxable_minor     BIGINT NOT NULL,
    tax_minor         BIGINT NOT NULL,
    quantity_received NUMERIC(18, 3) NOT NULL DEFAULT 0,
    quantity_rejected NUMERIC(18, 3) NOT NULL DEFAULT 0,
    PRIMARY KEY (po_id, line_no)
);

CREATE TABLE grns (
    id          UUID PRIMARY KEY,
    tenant_id   UUID NOT NULL,
    number      TEXT NOT NULL,
    po_id       UUID NOT NULL REFERENCES purchase_orders (id),
    vendor_id   UUID NOT NULL,
    location_id UUID NOT NULL,
    received_by UUID NOT NULL,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, number)
);

CREATE TABLE grn_lines (
    grn_id            UUID NOT NULL REFERENCES grns (id),
    line_no           INTEGER NOT NULL,
    tenant_id         UUID NOT NULL,
    product_id        UUID NOT NULL,
    quantity_received NUMERIC(18, 3) NOT NULL CHECK (quantity_received >= 0),
    quantity_rejected NUMERIC(18, 3) NOT NULL CHECK (quantity_rejected >= 0),
    rejection_reason  TEXT,
    batch             TEXT NOT NULL DEFAULT '',
    expiry_date       DATE,
    unit_cost_minor   BIGINT NOT NULL,
    quantity_invoiced NUMERIC(18, 3) NOT NULL DEFAULT 0,
    quantity_returned NUMERIC(18, 3) NOT NULL DEFAULT 0,
    PRIMARY KEY (grn_id, line_no),
    CHECK (quantity_invoiced <= quantity_received),
    CHECK (quantity_returned <= quantity_received)
);
CREATE INDEX grn_lines_product ON grn_lines (tenant_id, product_id);

CREATE TABLE purchase_invoices (
    id                    UUID PRIMARY KEY,
    tenant_id             UUID NOT NULL,
    vendor_id             UUID NOT NULL,
    vendor_invoice_number TEXT NOT NULL,
    invoice_date          DATE NOT NULL,
    due_date              DATE NOT NULL,
    grn_ids               UUID[] NOT NULL,
    currency              TEXT NOT NULL,
    taxable_minor         BIGINT NOT NULL,
    tax_minor             BIGINT NOT NULL,
    total_minor           BIGINT NOT NULL,
    -- matched: booked at once; held: a mismatch beyond tolerance awaits approval;
    -- approved: a held invoice someone allowed to approve accepted.
    status                TEXT NOT NULL CHECK (status IN ('matched', 'held', 'approved')),
    mismatches            JSONB NOT NULL DEFAULT '[]',
    recorded_by           UUID NOT NULL,
    recorded_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    approved_by           UUID,
    UNIQUE (tenant_id, vendor_id, vendor_invoice_number)
);

CREATE TABLE invoice_lines (
    invoice_id       UUID NOT NULL REFERENCES purchase_invoices (id),
    line_no          INTEGER NOT NULL,
    tenant_id        UUID NOT NULL,
    product_id       UUID NOT NULL,
    quantity         NUMERIC(18, 3) NOT NULL CHECK (quantity > 0),
    unit_price_minor BIGINT NOT NULL,
    taxable_minor    BIGINT NOT NULL,
    gst_rate_bp      INTEGER NOT NULL,
    cgst_minor       BIGINT NOT NULL,
    sgst_minor       BIGINT NOT NULL,
    igst_minor       BIGINT NOT NULL,
    cess_minor       BIGINT NOT NULL,
    total_minor      BIGINT NOT NULL,
    PRIMARY KEY (invoice_id, line_no)
);

CREATE TABLE purchase_returns (
    id          UUID PRIMARY KEY,
    tenant_id   UUID NOT NULL,
    number      TEXT NOT NULL,
    grn_id      UUID NOT NULL REFERENCES grns (id),
    vendor_id   UUID NOT NULL,
    reason      TEXT NOT NULL,
    total_minor BIGINT NOT NULL,
    returned_by UUID NOT NULL,
    returned_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, number)
);

-- Contracted prices per vendor and product.
CREATE TABLE vendor_prices (
    tenant_id        UUID NOT NULL,
    vendor_id        UUID NOT NULL,
    product_id       UUID NOT NULL,
    unit_price_minor BIGINT NOT NULL CHECK (unit_price_minor >= 0),
    valid_until      DATE,
    set_by           UUID NOT NULL,
    set_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, vendor_id, product_id)
);

SELECT isolate_tenants('vendors');
SELECT isolate_tenants('products');
SELECT isolate_tenants('stock_positions');
SELECT isolate_tenants('daily_sales');
SELECT isolate_tenants('document_series');
SELECT isolate_tenants('purchase_orders');
SELECT isolate_tenants('po_lines');
SELECT isolate_tenants('grns');
SELECT isolate_tenants('grn_lines');
SELECT isolate_tenants('purchase_invoices');
SELECT isolate_tenants('invoice_lines');
SELECT isolate_tenants('purchase_returns');
SELECT isolate_tenants('vendor_prices');
