-- A row the broker refuses for good (too large, invalid) is parked: set aside with the
-- broker's reason, so the rows after it, of every tenant, are still published. An
-- operator fixes the cause and clears parked_at (`bazaar outbox retry`).
ALTER TABLE outbox ADD COLUMN parked_at TIMESTAMPTZ, ADD COLUMN parked_reason TEXT;

DROP INDEX outbox_unpublished;
CREATE INDEX outbox_unpublished ON outbox (id) INCLUDE (xid)
    WHERE published_at IS NULL AND parked_at IS NULL;
CREATE INDEX outbox_parked ON outbox (id) WHERE published_at IS NULL AND parked_at IS NOT NULL;
