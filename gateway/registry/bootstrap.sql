-- The registry database's roles and the privileges only a superuser may give
-- or take away. Run by a superuser with psql, connected to the registry's
-- database, at install and after every upgrade; running it again changes
-- nothing. `modelgw up` runs it at every start as `postgres` over the unix
-- socket. A production DBA runs, for example:
--
--   psql -d modelgw -v gateway_role=modelgw -v gateway_password="$GATEWAY_PW" \
--        -v query_password="$QUERY_PW" -f gateway/registry/bootstrap.sql
--
-- Variables: gateway_role (default modelgw), the role the servers log in as;
-- gateway_password and query_password, each set only when given (a password
-- or a SCRAM-SHA-256 verifier).
--
-- The roles:
--   gateway_role    owns the registry's tables and runs the migrations. It needs
--                   no CREATEDB and no CREATEROLE (in PostgreSQL 15 CREATEROLE
--                   is close to superuser), so it has neither.
--   modelgw_query   the admin SQL console (QueryModelDatabase): logs in on a
--                   connection of its own, reads the registry's tables (granted
--                   by migration 0005 and again below), cannot lock them beyond
--                   ACCESS SHARE, signal other sessions, NOTIFY or take advisory
--                   locks, and every transaction it starts is read only.

\if :{?gateway_role}
\else
\set gateway_role modelgw
\endif

-- The gateway's role.
SELECT format('CREATE ROLE %I LOGIN', :'gateway_role')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'gateway_role')\gexec
ALTER ROLE :"gateway_role" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
\if :{?gateway_password}
ALTER ROLE :"gateway_role" WITH PASSWORD :'gateway_password';
\endif

-- The SQL console's role: a member of no role (pg_signal_backend, the gateway's
-- role, pg_read_all_data, ...), and a few connections at most, so that console
-- calls cannot take the connections the servers need.
SELECT 'CREATE ROLE modelgw_query LOGIN'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'modelgw_query')\gexec
ALTER ROLE modelgw_query WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION
    NOBYPASSRLS NOINHERIT CONNECTION LIMIT 4;
\if :{?query_password}
ALTER ROLE modelgw_query WITH PASSWORD :'query_password';
\endif
SELECT format('REVOKE %I FROM modelgw_query', roleid::regrole)
  FROM pg_auth_members WHERE member = 'modelgw_query'::regrole\gexec
-- Its own limits, whoever connects as it (the console sets tighter ones per call).
ALTER ROLE modelgw_query SET default_transaction_read_only = on;
ALTER ROLE modelgw_query SET statement_timeout = '30s';
ALTER ROLE modelgw_query SET lock_timeout = '1s';
ALTER ROLE modelgw_query SET idle_in_transaction_session_timeout = '10s';

-- In this database: NOTIFY through pg_notify() and advisory locks for the
-- gateway's role only. Any role may call them by default; the console could
-- then wake every server's policy listener, or hold the locks that serialise
-- migrations and catalog syncs. (NOTIFY as a statement needs no privilege: the
-- console never commits, which drops any notification it queued.)
REVOKE EXECUTE ON FUNCTION pg_notify(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pg_notify(text, text) TO :"gateway_role";
SELECT format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', oid::regprocedure)
  FROM pg_proc
 WHERE pronamespace = 'pg_catalog'::regnamespace AND proname ~ '^pg_(try_)?advisory_'\gexec
-- What the gateway calls: the lock around migrations and catalog syncs, and
-- the unlock asyncpg's pool runs when a connection goes back to it.
GRANT EXECUTE ON FUNCTION pg_advisory_xact_lock(bigint) TO :"gateway_role";
GRANT EXECUTE ON FUNCTION pg_advisory_unlock_all() TO :"gateway_role";

-- What the console reads, for a database whose tables exist already (migration
-- 0005 grants the same when this role exists before it runs).
GRANT USAGE ON SCHEMA public TO modelgw_query;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO modelgw_query;
ALTER DEFAULT PRIVILEGES FOR ROLE :"gateway_role" IN SCHEMA public
    GRANT SELECT ON TABLES TO modelgw_query;
SELECT 'GRANT USAGE ON SCHEMA modelgw_audit TO modelgw_query'
 WHERE to_regnamespace('modelgw_audit') IS NOT NULL\gexec
SELECT 'GRANT SELECT ON modelgw_audit.outbox TO modelgw_query'
 WHERE to_regclass('modelgw_audit.outbox') IS NOT NULL\gexec
