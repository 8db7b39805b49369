-- What the SQL console's role (modelgw_query, made by gateway/registry/bootstrap.sql,
-- which a superuser runs) reads: every table of the registry, now and when
-- created again (ResetModelDatabase drops the public schema, re-creates it and
-- applies every migration again, this one included), and the audit outbox,
-- which holds what the audit log holds and is for the same superusers.
-- Sequences are left out: reading the registry needs none.
--
-- Nothing happens when the role does not exist; bootstrap.sql grants the same
-- when it runs after this file.

DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'modelgw_query') THEN
        GRANT USAGE ON SCHEMA public TO modelgw_query;
        GRANT SELECT ON ALL TABLES IN SCHEMA public TO modelgw_query;
        ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO modelgw_query;
        GRANT USAGE ON SCHEMA modelgw_audit TO modelgw_query;
        GRANT SELECT ON modelgw_audit.outbox TO modelgw_query;
    END IF;
END
$$;
