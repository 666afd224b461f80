-- The transactional outbox, shared by every service database. A service writes its
-- state change and its events here in one transaction; the relay publishes them to
-- Kafka. Rows are kept after publishing (published_at set) as the service's event
-- history, in monthly partitions so old months can be archived or dropped whole.
CREATE TABLE outbox (
    id           BIGINT GENERATED ALWAYS AS IDENTITY,
    -- The writing transaction. The relay publishes only rows of transactions older
    -- than every transaction still running, so a late commit is never skipped.
    xid          xid8 NOT NULL DEFAULT pg_current_xact_id(),
    event_id     UUID NOT NULL,
    topic        TEXT NOT NULL,
    key          TEXT NOT NULL,
    event_type   TEXT NOT NULL,
    dataschema   TEXT NOT NULL,
    payload      BYTEA NOT NULL,
    -- The CloudEvents Kafka headers, as {"ce_id": "...", ...}.
    headers      JSONB NOT NULL,
    tenant_id    UUID NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    published_at TIMESTAMPTZ,
    PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);

-- The relay's read: unpublished rows in id order, filtered by xid.
CREATE INDEX outbox_unpublished ON outbox (id) INCLUDE (xid) WHERE published_at IS NULL;

-- Catches rows only if the monthly partitions were not created ahead (see below).
CREATE TABLE outbox_default PARTITION OF outbox DEFAULT;

-- Creates the partitions of this month and the next `months_ahead`. Run at migration
-- and by the relay every hour, so rows never land in the default partition.
CREATE FUNCTION outbox_ensure_partitions(months_ahead integer) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    month_start date;
BEGIN
    FOR i IN 0..months_ahead LOOP
        month_start := (date_trunc('month', now()) + make_interval(months => i))::date;
        EXECUTE format(
            'CREATE TABLE IF NOT EXISTS %I PARTITION OF outbox FOR VALUES FROM (%L) TO (%L)',
            'outbox_' || to_char(month_start, 'YYYY_MM'),
            month_start,
            (month_start + interval '1 month')::date
        );
    END LOOP;
END
$$;

SELECT outbox_ensure_partitions(3);

-- Wakes the relay at commit (NOTIFY is delivered on commit, once per transaction).
CREATE FUNCTION outbox_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('outbox', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();

-- One active relay per database: whoever holds an unexpired lease. The fencing token
-- grows with every change of holder; marking rows published checks it, so a relay
-- that was paused past its lease cannot mark anything.
CREATE TABLE relay_lease (
    name          TEXT PRIMARY KEY,
    holder        UUID,
    fencing_token BIGINT NOT NULL DEFAULT 0,
    expires_at    TIMESTAMPTZ NOT NULL DEFAULT '-infinity'
);

INSERT INTO relay_lease (name) VALUES ('outbox');
