-- Row security adds `tenant_id = current_tenant()` to every query, and the planner
-- estimates it from the tenant column's most common values. While a database has fewer
-- tenants than that list holds, the list names every tenant ANALYZE saw, so a tenant
-- that arrived since (a new customer, every test and benchmark) is estimated at no rows
-- at all. Any index leading with tenant_id then looks free: finance checked each
-- journal entry's balance by scanning all of the tenant's journal lines through
-- (tenant_id, account_code) instead of the entry's four through the primary key, a scan
-- that grew with every sale. With one most common value kept, a tenant the statistics
-- have not met is estimated as an average one; the other columns keep their statistics.
CREATE OR REPLACE FUNCTION isolate_tenants(tbl regclass) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tbl);
    EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', tbl);
    EXECUTE format(
        'CREATE POLICY tenant_isolation ON %s USING (tenant_id = current_tenant()) '
        'WITH CHECK (tenant_id = current_tenant())', tbl);
    EXECUTE format('ALTER TABLE %s ALTER COLUMN tenant_id SET STATISTICS 1', tbl);
END
$$;

-- The tables isolated before this migration; on a new database that is only the
-- platform's own, and the services' tables get it from isolate_tenants above.
DO $$
DECLARE
    tbl regclass;
BEGIN
    FOR tbl IN
        SELECT DISTINCT p.polrelid::regclass FROM pg_policy p
         WHERE p.polname = 'tenant_isolation'
    LOOP
        EXECUTE format('ALTER TABLE %s ALTER COLUMN tenant_id SET STATISTICS 1', tbl);
        EXECUTE format('ANALYZE %s', tbl);
    END LOOP;
END
$$;
