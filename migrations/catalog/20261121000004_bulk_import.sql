-- What bulk imports need.

-- A product's barcodes by (tenant, product): with the tenant first, a lookup under
-- row-level security matches both conditions in one index instead of competing with the
-- primary key's tenant prefix.
DROP INDEX barcodes_product;
CREATE INDEX barcodes_product ON barcodes (tenant_id, product_id);

-- An import can grow a tenant from nothing to 100,000 products in one transaction. With
-- statistics from before it, the planner believes the tenant has a row or two and picks
-- any index on tenant_id, then filters the whole tenant per lookup. The importer refreshes
-- the statistics as the tenant grows; ANALYZE needs the tables' owner, hence a definer
-- function that does exactly that and nothing else.
CREATE FUNCTION refresh_catalog_statistics() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
    ANALYZE products;
    ANALYZE barcodes;
END
$$;
REVOKE ALL ON FUNCTION refresh_catalog_statistics() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION refresh_catalog_statistics() TO bazaar_app;
