-- The tenant's stores as identity announced them (identity.store.opened, through
-- inventory-snapshots): a store location names one of these, or it is another
-- tenant's store or nobody's.
CREATE TABLE known_stores (
    tenant_id UUID NOT NULL,
    id        UUID NOT NULL,
    code      TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
SELECT isolate_tenants('known_stores');
