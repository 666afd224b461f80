-- Facts, one row per line of a business document, in minor units and thousandths of a
-- unit (quantities), never floats. Each row names the event it came from; the ingest
-- never inserts an event twice, and ReplacingMergeTree guards the rest.

-- A product as catalog last described it: what sales lines are grouped by.
CREATE TABLE IF NOT EXISTS products (
    tenant_id   String,
    product_id  String,
    sku         String,
    name        String,
    category_id String,
    version     UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (tenant_id, product_id);

CREATE TABLE IF NOT EXISTS categories (
    tenant_id   String,
    category_id String,
    name        String
) ENGINE = ReplacingMergeTree()
ORDER BY (tenant_id, category_id);

-- Invoice lines. The payment mode is the invoice's largest payment's; net is the
-- taxable value after discounts.
CREATE TABLE IF NOT EXISTS sales_lines (
    event_id       String,
    tenant_id      String,
    store_id       String,
    terminal_id    String,
    invoice_id     String,
    invoice_number String,
    line_no        Int32,
    product_id     String,
    sku            String,
    quantity_milli Int64,
    net_minor      Int64,
    tax_minor      Int64,
    discount_minor Int64,
    payment_mode   String,
    issued_at      DateTime
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(issued_at)
ORDER BY (tenant_id, store_id, invoice_id, line_no);

-- Lines coming back on a credit note.
CREATE TABLE IF NOT EXISTS return_lines (
    event_id       String,
    tenant_id      String,
    store_id       String,
    return_id      String,
    invoice_id     String,
    line_no        Int32,
    product_id     String,
    sku            String,
    quantity_milli Int64,
    net_minor      Int64,
    tax_minor      Int64,
    processed_at   DateTime
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(processed_at)
ORDER BY (tenant_id, store_id, return_id, line_no);

-- Every stock movement at its cost. value_minor is signed like the quantity.
CREATE TABLE IF NOT EXISTS stock_movements (
    event_id       String,
    tenant_id      String,
    location_id    String,
    store_id       String,
    product_id     String,
    sku            String,
    kind           String,
    quantity_milli Int64,
    value_minor    Int64,
    reference_id   String,
    recorded_at    DateTime
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(recorded_at)
ORDER BY (tenant_id, location_id, product_id, event_id);

-- Vendor invoice lines, with their input tax.
CREATE TABLE IF NOT EXISTS purchase_lines (
    event_id       String,
    tenant_id      String,
    vendor_id      String,
    invoice_id     String,
    line_no        Int32,
    product_id     String,
    sku            String,
    quantity_milli Int64,
    net_minor      Int64,
    tax_minor      Int64,
    invoice_date   Date
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(invoice_date)
ORDER BY (tenant_id, vendor_id, invoice_id, line_no);

-- Journal lines, from finance.entry.posted.
CREATE TABLE IF NOT EXISTS journal_lines (
    event_id      String,
    tenant_id     String,
    entry_id      String,
    line_no       Int32,
    account_code  String,
    store_id      String,
    debit_minor   Int64,
    credit_minor  Int64,
    source        String,
    posting_date  Date
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(posting_date)
ORDER BY (tenant_id, entry_id, line_no);
