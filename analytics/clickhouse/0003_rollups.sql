-- Rollups the dashboards read, kept by materialized views as facts arrive. They sum, so
-- they rely on the ingest inserting each event once.

CREATE MATERIALIZED VIEW IF NOT EXISTS sales_by_store_hour
ENGINE = SummingMergeTree()
PARTITION BY toYYYYMM(hour)
ORDER BY (tenant_id, store_id, hour)
AS SELECT
    tenant_id,
    store_id,
    toStartOfHour(issued_at) AS hour,
    sum(net_minor) AS net_minor,
    sum(tax_minor) AS tax_minor,
    sum(discount_minor) AS discount_minor,
    count() AS lines
FROM sales_lines
GROUP BY tenant_id, store_id, hour;

CREATE MATERIALIZED VIEW IF NOT EXISTS sales_by_store_day
ENGINE = SummingMergeTree()
PARTITION BY toYYYYMM(day)
ORDER BY (tenant_id, store_id, day)
AS SELECT
    tenant_id,
    store_id,
    toDate(issued_at) AS day,
    sum(net_minor) AS net_minor,
    sum(tax_minor) AS tax_minor,
    sum(discount_minor) AS discount_minor,
    count() AS lines
FROM sales_lines
GROUP BY tenant_id, store_id, day;

CREATE MATERIALIZED VIEW IF NOT EXISTS sales_by_sku_day
ENGINE = SummingMergeTree()
PARTITION BY toYYYYMM(day)
ORDER BY (tenant_id, product_id, day)
AS SELECT
    tenant_id,
    product_id,
    toDate(issued_at) AS day,
    sum(quantity_milli) AS quantity_milli,
    sum(net_minor) AS net_minor
FROM sales_lines
GROUP BY tenant_id, product_id, day;

CREATE MATERIALIZED VIEW IF NOT EXISTS stock_by_store_sku
ENGINE = SummingMergeTree()
ORDER BY (tenant_id, location_id, product_id)
AS SELECT
    tenant_id,
    location_id,
    store_id,
    product_id,
    sum(quantity_milli) AS quantity_milli,
    sum(value_minor) AS value_minor
FROM stock_movements
GROUP BY tenant_id, location_id, store_id, product_id;
