-- Every row names the Kafka message it came from. After a failed or interrupted write the
-- ingest asks each table which of the batch's messages it already holds, so a batch
-- stored half-way (ClickHouse stopped mid-batch) is completed without a row twice: the
-- answer is in the same insert as the rows, never in a second table that can lag behind.

ALTER TABLE products
    ADD COLUMN topic String DEFAULT '',
    ADD COLUMN partition Int32 DEFAULT 0,
    ADD COLUMN offset Int64 DEFAULT -1;

ALTER TABLE categories
    ADD COLUMN topic String DEFAULT '',
    ADD COLUMN partition Int32 DEFAULT 0,
    ADD COLUMN offset Int64 DEFAULT -1;

ALTER TABLE sales_lines
    ADD COLUMN topic String DEFAULT '',
    ADD COLUMN partition Int32 DEFAULT 0,
    ADD COLUMN offset Int64 DEFAULT -1;

ALTER TABLE return_lines
    ADD COLUMN topic String DEFAULT '',
    ADD COLUMN partition Int32 DEFAULT 0,
    ADD COLUMN offset Int64 DEFAULT -1;

ALTER TABLE stock_movements
    ADD COLUMN topic String DEFAULT '',
    ADD COLUMN partition Int32 DEFAULT 0,
    ADD COLUMN offset Int64 DEFAULT -1;

ALTER TABLE purchase_lines
    ADD COLUMN topic String DEFAULT '',
    ADD COLUMN partition Int32 DEFAULT 0,
    ADD COLUMN offset Int64 DEFAULT -1;

ALTER TABLE journal_lines
    ADD COLUMN topic String DEFAULT '',
    ADD COLUMN partition Int32 DEFAULT 0,
    ADD COLUMN offset Int64 DEFAULT -1;

-- When the server stored the event: with its time, how far behind the ingest runs.
ALTER TABLE events ADD COLUMN ingested_at DateTime DEFAULT now();

-- Messages a consumer gave up on (`<topic>.dlq`), read from their headers: the payload
-- may be what could not be decoded.
CREATE TABLE IF NOT EXISTS dead_letters (
    consumer           String,
    error              String,
    attempts           UInt32,
    original_topic     String,
    original_partition Int32,
    original_offset    Int64,
    event_id           String,
    type               String,
    tenant_id          String,
    dead_lettered_at   DateTime,
    topic              String,
    partition          Int32,
    offset             Int64
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(dead_lettered_at)
ORDER BY (topic, partition, offset)
