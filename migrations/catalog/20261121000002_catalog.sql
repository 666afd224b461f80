-- Catalog: the tenant's category tree, products (and variants), barcodes.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE categories (
    id         UUID PRIMARY KEY,
    tenant_id  UUID NOT NULL,
    parent_id  UUID REFERENCES categories (id),
    name       TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    -- Names from the root joined by ' / ', for display and sorting.
    path       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX categories_name ON categories (tenant_id, coalesce(parent_id, '00000000-0000-0000-0000-000000000000'), lower(name));

CREATE TABLE products (
    id                  UUID PRIMARY KEY,
    tenant_id           UUID NOT NULL,
    sku                 TEXT NOT NULL,
    name                TEXT NOT NULL,
    description         TEXT,
    brand               TEXT,
    category_id         UUID REFERENCES categories (id),
    variant_of          UUID REFERENCES products (id),
    attributes          JSONB NOT NULL DEFAULT '{}',
    unit                TEXT NOT NULL,
    unit_decimals       SMALLINT NOT NULL,
    hsn_code            TEXT,
    gst_rate_bp         INTEGER NOT NULL,
    cess_rate_bp        INTEGER NOT NULL DEFAULT 0,
    currency            TEXT NOT NULL,
    mrp_minor           BIGINT NOT NULL CHECK (mrp_minor >= 0),
    selling_price_minor BIGINT NOT NULL CHECK (selling_price_minor >= 0),
    tax_inclusive       BOOLEAN NOT NULL,
    reorder_level       NUMERIC(18, 3),
    archived_at         TIMESTAMPTZ,
    version             INTEGER NOT NULL DEFAULT 1,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, sku),
    CHECK (selling_price_minor <= mrp_minor)
);
CREATE INDEX products_name ON products USING gin (lower(name) gin_trgm_ops);
CREATE INDEX products_list ON products (tenant_id, lower(name), id);
CREATE INDEX products_category ON products (tenant_id, category_id);
CREATE INDEX products_brand ON products (tenant_id, lower(brand));

-- The POS looks a product up by barcode on every scan: one primary-key probe.
CREATE TABLE barcodes (
    tenant_id   UUID NOT NULL,
    code        TEXT NOT NULL,
    product_id  UUID NOT NULL REFERENCES products (id),
    kind        TEXT NOT NULL CHECK (kind IN ('ean13', 'upca', 'generated')),
    assigned_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, code)
);
CREATE INDEX barcodes_product ON barcodes (product_id);

-- Per-tenant counter of generated EAN-13 codes. The prefix defaults to 200, GS1's
-- range for numbers used only inside one company.
CREATE TABLE barcode_series (
    tenant_id UUID PRIMARY KEY,
    prefix    TEXT NOT NULL CHECK (prefix ~ '^[0-9]{3,10}$'),
    next_item BIGINT NOT NULL DEFAULT 1
);

SELECT isolate_tenants('categories');
SELECT isolate_tenants('products');
SELECT isolate_tenants('barcodes');
SELECT isolate_tenants('barcode_series');
