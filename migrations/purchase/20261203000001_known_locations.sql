-- The tenant's stock locations as inventory announced them (inventory.location.added),
-- with the store each belongs to: an order goes only to a known location, and a
-- store-scoped user sees and handles only orders into their stores.
CREATE TABLE known_locations (
    tenant_id UUID NOT NULL,
    id        UUID NOT NULL,
    -- NULL: a warehouse, reached only by users of every store.
    store_id  UUID,
    PRIMARY KEY (tenant_id, id)
);
SELECT isolate_tenants('known_locations');
