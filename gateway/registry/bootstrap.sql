-- The registry database's roles and the privileges only a superuser may give
-- or take away. Run by a superuser with psql, connected to the registry's
-- database, at install and after every upgrade; running it again changes
-- nothing. `modelgw up` runs it at every start as `postgres` over the unix
-- socket. A production DBA runs, for example:
--
--   psql -d modelgw -v gateway_role=modelgw -v gateway_password="$GATEWAY_PW" \
--        -f gateway/registry/bootstrap.sql
--
-- Variables: gateway_role (default modelgw), the role the servers log in as;
-- gateway_password, set only when given (a password or a SCRAM-SHA-256
-- verifier).
--
-- The gateway's role owns the registry's tables and runs the migrations. It
-- needs no CREATEDB and no CREATEROLE (in PostgreSQL 15 CREATEROLE is close to
-- superuser), so it has neither.

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
