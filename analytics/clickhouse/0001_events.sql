-- Every event of every topic, as it was published. ReplacingMergeTree keeps one row per
-- event id (queries that must not see a redelivered copy before a merge use FINAL).
CREATE TABLE IF NOT EXISTS events (
    id        String,
    type      String,
    source    String,
    tenant_id String,
    store_id  String,
    subject   String,
    time      DateTime,
    topic     String,
    partition Int32,
    offset    Int64,
    payload   String
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(time)
ORDER BY (tenant_id, id);

-- How far the ingest has stored each partition (`table` is 'events', written once every
-- table has the batch): what the pipeline panels and callers waiting on the ingest read.
-- Deduplication asks the tables themselves (0004_sources.sql).
CREATE TABLE IF NOT EXISTS ingest_offsets (
    table     String,
    topic     String,
    partition Int32,
    offset    Int64
) ENGINE = ReplacingMergeTree(offset)
ORDER BY (table, topic, partition);
