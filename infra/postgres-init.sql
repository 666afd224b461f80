-- The role request handlers connect as (see migrations/platform/0003_tenancy.sql). The
-- Docker image's POSTGRES_USER owns the tables; this one owns nothing.
CREATE ROLE bazaar_app LOGIN PASSWORD 'bazaar_app' NOSUPERUSER NOBYPASSRLS;
