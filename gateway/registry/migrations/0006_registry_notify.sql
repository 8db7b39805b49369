-- Every committed change to what a model runs is announced on the
-- modelgw_registry channel, the payload the model's name: its default version,
-- a version created or deleted, the model created or deleted. The execution
-- servers' catalogs (gateway/execution/resolution_cache.py) drop their cached answer
-- for that model when they hear it. The NOTIFY is queued by the writing
-- transaction itself, so it is sent exactly when, and only if, that commits;
-- PostgreSQL folds repeats of one (channel, payload) in a transaction into one.
-- Descriptive fields, grants and visibility change nothing a submission runs,
-- and send nothing.
--
-- Idempotent, like 0002: ResetModelDatabase applies every migration again to
-- the tables it re-creates.

CREATE OR REPLACE FUNCTION notify_registry_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    changed jsonb;
BEGIN
    IF TG_OP = 'DELETE' THEN
        changed := to_jsonb(OLD);
    ELSE
        changed := to_jsonb(NEW);
    END IF;
    PERFORM pg_notify(
        'modelgw_registry',
        changed ->> CASE WHEN TG_TABLE_NAME = 'models' THEN 'name' ELSE 'model' END
    );
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER models_notify_insert_delete
    AFTER INSERT OR DELETE ON models
    FOR EACH ROW EXECUTE FUNCTION notify_registry_change();

CREATE OR REPLACE TRIGGER models_notify_default_version
    AFTER UPDATE OF default_version ON models
    FOR EACH ROW WHEN (OLD.default_version IS DISTINCT FROM NEW.default_version)
    EXECUTE FUNCTION notify_registry_change();

CREATE OR REPLACE TRIGGER model_versions_notify
    AFTER INSERT OR UPDATE OR DELETE ON model_versions
    FOR EACH ROW EXECUTE FUNCTION notify_registry_change();
