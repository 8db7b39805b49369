-- The audit outbox: every change to the registry and the access policy, and
-- every admin action, written in the same transaction as the change itself,
-- until the audit shipper has spooled it (then it deletes the rows).
--
-- It lives in its own schema so that ResetModelDatabase, which drops and
-- re-creates the registry's tables, keeps the records not yet shipped. This
-- file is idempotent for the same reason: a reset applies every migration
-- again, and this one must re-attach its triggers to the new tables.

CREATE SCHEMA IF NOT EXISTS modelgw_audit;

CREATE TABLE IF NOT EXISTS modelgw_audit.outbox (
    id          bigserial   PRIMARY KEY,
    time        timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor       text        NOT NULL,
    request_id  text        NOT NULL DEFAULT '',
    subject     text        NOT NULL,  -- a table name, or 'admin' for admin actions
    operation   text        NOT NULL,  -- INSERT, UPDATE, DELETE, or the admin RPC's name
    before      jsonb,
    after       jsonb
);

-- Who is changing the registry: the gateway sets modelgw.actor and
-- modelgw.request_id with set_config(..., true) at the start of each write
-- transaction; a change made outside the gateway (psql) is recorded with the
-- database user.
CREATE OR REPLACE FUNCTION modelgw_audit.record_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO modelgw_audit.outbox (actor, request_id, subject, operation, before, after)
    VALUES (
        COALESCE(NULLIF(current_setting('modelgw.actor', true), ''), 'db:' || current_user),
        COALESCE(current_setting('modelgw.request_id', true), ''),
        TG_TABLE_NAME,
        TG_OP,
        CASE WHEN TG_OP IN ('UPDATE', 'DELETE') THEN to_jsonb(OLD) END,
        CASE WHEN TG_OP IN ('INSERT', 'UPDATE') THEN to_jsonb(NEW) END
    );
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER models_audit
    AFTER INSERT OR UPDATE OR DELETE ON models
    FOR EACH ROW EXECUTE FUNCTION modelgw_audit.record_change();

CREATE OR REPLACE TRIGGER model_versions_audit
    AFTER INSERT OR UPDATE OR DELETE ON model_versions
    FOR EACH ROW EXECUTE FUNCTION modelgw_audit.record_change();

CREATE OR REPLACE TRIGGER casbin_rule_audit
    AFTER INSERT OR UPDATE OR DELETE ON casbin_rule
    FOR EACH ROW EXECUTE FUNCTION modelgw_audit.record_change();
