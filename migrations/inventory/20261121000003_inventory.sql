-- Inventory: locations, the stock ledger, the stock it derives, reservations, transfers
-- and counts. Quantities are NUMERIC(18, 3) in the product's unit; costs are NUMERIC
-- minor units per unit (four decimals, so a moving average does not drift).

-- Products as inventory knows them, from catalog.events.v1.
CREATE TABLE products (
    tenant_id     UUID NOT NULL,
    id            UUID NOT NULL,
    sku           TEXT NOT NULL,
    unit_decimals SMALLINT NOT NULL CHECK (unit_decimals BETWEEN 0 AND 3),
    currency      TEXT NOT NULL,
    reorder_level NUMERIC(18, 3),
    archived      BOOLEAN NOT NULL DEFAULT false,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, sku)
);

-- Stores (one location per identity store) and warehouses.
CREATE TABLE locations (
    id                    UUID PRIMARY KEY,
    tenant_id             UUID NOT NULL,
    code                  TEXT NOT NULL CHECK (code ~ '^[A-Z0-9][A-Z0-9_-]{0,15}$'),
    name                  TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    kind                  TEXT NOT NULL CHECK (kind IN ('store', 'warehouse')),
    store_id              UUID,
    allows_negative_stock BOOLEAN NOT NULL DEFAULT false,
    created_at            TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, code),
    UNIQUE (tenant_id, store_id),
    CHECK ((kind = 'store') = (store_id IS NOT NULL))
);

-- The stock ledger: append-only. Stock levels and batches are a fold of it.
CREATE TABLE stock_movements (
    id              UUID PRIMARY KEY,
    seq             BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    tenant_id       UUID NOT NULL,
    location_id     UUID NOT NULL REFERENCES locations (id),
    product_id      UUID NOT NULL,
    -- '' for stock without a batch number.
    batch           TEXT NOT NULL DEFAULT '',
    expiry_date     DATE,
    kind            TEXT NOT NULL CHECK (kind IN ('receipt', 'sale', 'return', 'adjustment',
                        'transfer_out', 'transfer_in', 'count_correction')),
    quantity        NUMERIC(18, 3) NOT NULL CHECK (quantity <> 0),
    -- What one unit cost: the receipt's price coming in, the moving average going out.
    unit_cost_minor NUMERIC(20, 4) NOT NULL CHECK (unit_cost_minor >= 0),
    reason          TEXT,
    reference_type  TEXT,
    reference_id    TEXT,
    recorded_by     UUID,
    recorded_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    FOREIGN KEY (tenant_id, product_id) REFERENCES products (tenant_id, id)
);
CREATE INDEX stock_movements_item ON stock_movements (tenant_id, location_id, product_id, seq);
CREATE INDEX stock_movements_reference ON stock_movements (tenant_id, reference_type, reference_id);

CREATE FUNCTION stock_movements_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'stock_movements is append-only: record a correcting movement instead';
END
$$;
CREATE TRIGGER stock_movements_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON stock_movements
    FOR EACH STATEMENT EXECUTE FUNCTION stock_movements_append_only();

-- Per location and product: on hand (all batches) and the moving-average unit cost.
CREATE TABLE stock_levels (
    tenant_id          UUID NOT NULL,
    location_id        UUID NOT NULL REFERENCES locations (id),
    product_id         UUID NOT NULL,
    on_hand            NUMERIC(18, 3) NOT NULL DEFAULT 0,
    average_cost_minor NUMERIC(20, 4) NOT NULL DEFAULT 0,
    last_movement_seq  BIGINT NOT NULL,
    last_moved_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, location_id, product_id)
);

-- Per location, product and batch.
CREATE TABLE stock_batches (
    tenant_id   UUID NOT NULL,
    location_id UUID NOT NULL REFERENCES locations (id),
    product_id  UUID NOT NULL,
    batch       TEXT NOT NULL,
    expiry_date DATE,
    on_hand     NUMERIC(18, 3) NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, location_id, product_id, batch)
);
CREATE INDEX stock_batches_expiry ON stock_batches (tenant_id, expiry_date) WHERE expiry_date IS NOT NULL;

-- Stock held for a sale in progress. Expired reservations hold nothing: every query
-- filters on expires_at, so expiry needs no job.
CREATE TABLE reservations (
    id          UUID PRIMARY KEY,
    tenant_id   UUID NOT NULL,
    location_id UUID NOT NULL REFERENCES locations (id),
    reference   TEXT,
    status      TEXT NOT NULL CHECK (status IN ('active', 'consumed', 'released')),
    expires_at  TIMESTAMPTZ NOT NULL,
    created_by  UUID NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    closed_at   TIMESTAMPTZ
);

CREATE TABLE reservation_lines (
    reservation_id UUID NOT NULL REFERENCES reservations (id),
    tenant_id      UUID NOT NULL,
    location_id    UUID NOT NULL,
    product_id     UUID NOT NULL,
    quantity       NUMERIC(18, 3) NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (reservation_id, product_id)
);
CREATE INDEX reservation_lines_item ON reservation_lines (tenant_id, location_id, product_id);

CREATE TABLE transfers (
    id            UUID PRIMARY KEY,
    tenant_id     UUID NOT NULL,
    from_location UUID NOT NULL REFERENCES locations (id),
    to_location   UUID NOT NULL REFERENCES locations (id),
    status        TEXT NOT NULL CHECK (status IN ('in_transit', 'received', 'closed')),
    reference     TEXT,
    dispatched_by UUID NOT NULL,
    dispatched_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    closed_at     TIMESTAMPTZ,
    CHECK (from_location <> to_location)
);

CREATE TABLE transfer_lines (
    transfer_id         UUID NOT NULL REFERENCES transfers (id),
    tenant_id           UUID NOT NULL,
    product_id          UUID NOT NULL,
    batch               TEXT NOT NULL,
    expiry_date         DATE,
    unit_cost_minor     NUMERIC(20, 4) NOT NULL,
    quantity_dispatched NUMERIC(18, 3) NOT NULL CHECK (quantity_dispatched > 0),
    quantity_received   NUMERIC(18, 3) NOT NULL DEFAULT 0,
    -- Set when the transfer closes: what never arrived.
    shortfall           NUMERIC(18, 3),
    PRIMARY KEY (transfer_id, product_id, batch),
    CHECK (quantity_received <= quantity_dispatched)
);

-- One row per alert raised, so a scheduled scan raises each batch's expiry once a day.
CREATE TABLE expiry_alerts (
    tenant_id   UUID NOT NULL,
    location_id UUID NOT NULL,
    product_id  UUID NOT NULL,
    batch       TEXT NOT NULL,
    alerted_on  DATE NOT NULL,
    PRIMARY KEY (tenant_id, location_id, product_id, batch, alerted_on)
);

-- Tenants with inventory, for jobs that visit every tenant (the expiry scan). Not under
-- row-level security: it holds nothing but ids, and handlers may only add to it.
CREATE TABLE tenants (
    tenant_id UUID PRIMARY KEY
);
REVOKE SELECT, UPDATE, DELETE, TRUNCATE ON tenants FROM bazaar_app;

SELECT isolate_tenants('products');
SELECT isolate_tenants('locations');
SELECT isolate_tenants('stock_movements');
SELECT isolate_tenants('stock_levels');
SELECT isolate_tenants('stock_batches');
SELECT isolate_tenants('reservations');
SELECT isolate_tenants('reservation_lines');
SELECT isolate_tenants('transfers');
SELECT isolate_tenants('transfer_lines');
SELECT isolate_tenants('expiry_alerts');

-- The ledger is never edited, not even by the handlers' role.
REVOKE UPDATE, DELETE, TRUNCATE ON stock_movements FROM bazaar_app;
