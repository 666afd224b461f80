-- What a cashier may give away without a manager, and every sale that went beyond it.

-- How far a role may discount, per tenant (store_id null) or for one store. A role with
-- no row has the built-in limit (domain::DiscountLimit::built_in).
CREATE TABLE discount_policies (
    tenant_id    UUID NOT NULL,
    store_id     UUID,
    role         TEXT NOT NULL,
    -- Basis points of what the discount comes off (a line's value, or the bill's after
    -- line discounts); 10000 is all of it.
    line_bp      INTEGER NOT NULL CHECK (line_bp BETWEEN 0 AND 10000),
    -- Minor units; null is no amount limit.
    line_minor   BIGINT CHECK (line_minor >= 0),
    bill_bp      INTEGER NOT NULL CHECK (bill_bp BETWEEN 0 AND 10000),
    bill_minor   BIGINT CHECK (bill_minor >= 0),
    set_by       UUID NOT NULL,
    set_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX discount_policies_scope
    ON discount_policies (tenant_id, coalesce(store_id, '00000000-0000-0000-0000-000000000000'), role);

-- Each product's selling price from when it was in force (catalog's events), so an
-- offline sale is checked against the price its terminal could have known.
CREATE TABLE product_prices (
    tenant_id           UUID NOT NULL,
    product_id          UUID NOT NULL,
    valid_from          TIMESTAMPTZ NOT NULL,
    selling_price_minor BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, product_id, valid_from)
);
INSERT INTO product_prices (tenant_id, product_id, valid_from, selling_price_minor)
    SELECT tenant_id, id, '-infinity', selling_price_minor FROM products;

-- A price below the catalog's, or a discount beyond the cashier's policy: approved by a
-- manager at the till, or found on an offline sale that was taken all the same.
CREATE TABLE invoice_exceptions (
    tenant_id      UUID NOT NULL,
    invoice_id     UUID NOT NULL REFERENCES invoices (id),
    seq            INTEGER NOT NULL,
    -- The request field: lines[2].unit_price_minor, lines[0].discount_minor, bill_discount_minor.
    field          TEXT NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('price_deviation', 'line_discount', 'bill_discount')),
    -- What the catalog or the policy allowed, and what was given (minor units).
    allowed_minor  BIGINT NOT NULL,
    given_minor    BIGINT NOT NULL,
    -- What the customer got beyond it; negative for a price above the catalog's.
    amount_minor   BIGINT NOT NULL,
    approved_by    UUID,
    PRIMARY KEY (invoice_id, seq)
);
CREATE INDEX invoice_exceptions_tenant ON invoice_exceptions (tenant_id, invoice_id);

ALTER TABLE invoices ADD COLUMN exceptions INTEGER NOT NULL DEFAULT 0,
                     ADD COLUMN approved_by UUID,
                     ADD COLUMN offline BOOLEAN NOT NULL DEFAULT false;
-- Before this column, an invoice without a stock reservation was an offline one: every
-- online sale reserves first.
UPDATE invoices SET offline = reservation_id IS NULL;

SELECT isolate_tenants('discount_policies');
SELECT isolate_tenants('product_prices');
SELECT isolate_tenants('invoice_exceptions');
