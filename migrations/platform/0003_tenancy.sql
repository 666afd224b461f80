-- Tenant isolation's second wall. Request handlers connect as bazaar_app, which owns no
-- table: row-level security applies to it, and every tenant table is FORCE'd so it
-- applies to the owner too. The tenant is set per transaction with
-- set_config('bazaar.tenant', ..., true) (SET LOCAL), never for a pooled session.
--
-- bazaar_app is a cluster role: `./dev infra up` creates it (an operator does in
-- production); this migration only grants it what services need.
GRANT USAGE ON SCHEMA public TO bazaar_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO bazaar_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO bazaar_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO bazaar_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO bazaar_app;
-- The relay's lease is not the handlers' business.
REVOKE ALL ON relay_lease FROM bazaar_app;

-- The tenant of the current transaction, or NULL (which no row matches) when unset.
CREATE FUNCTION current_tenant() RETURNS uuid
LANGUAGE sql STABLE AS $$
    SELECT nullif(current_setting('bazaar.tenant', true), '')::uuid
$$;

-- Puts a table with a tenant_id column under row-level security, forced for its owner
-- too: services call it for each tenant table in their migrations.
CREATE FUNCTION isolate_tenants(tbl regclass) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tbl);
    EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', tbl);
    EXECUTE format(
        'CREATE POLICY tenant_isolation ON %s USING (tenant_id = current_tenant()) '
        'WITH CHECK (tenant_id = current_tenant())', tbl);
END
$$;

-- Idempotency-Key: the first request with a key claims it; its response is stored and
-- replayed to retries. Keys are scoped per tenant and forgotten after a day.
CREATE TABLE idempotency_keys (
    tenant_id      UUID NOT NULL,
    key            TEXT NOT NULL,
    -- SHA-256 of method, path and body: the same key with another request is refused.
    fingerprint    BYTEA NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- NULL while the first request is in flight.
    response_status SMALLINT,
    response_headers JSONB,
    response_body  BYTEA,
    PRIMARY KEY (tenant_id, key)
);

SELECT isolate_tenants('idempotency_keys');
