-- A model's history (RegistryService.ListModelHistory, gateway/registry/history.py):
-- who changed what the model runs and who may use it, when, and from what to
-- what. The audit outbox (0002) records the same changes, but only until the
-- shipper has spooled them; these rows stay as long as the model does.
--
-- Triggers write each row in the transaction of the change itself, whatever
-- made it (an RPC, the rollout controller, a catalog sync, psql), with the
-- actor as modelgw_audit.record_change() names it: modelgw.actor, set by the
-- writing transaction, else 'db:' and the database user.
--
-- kind          before_value → after_value       subject  detail
-- MODEL_CREATED                                           display name
-- VERSION_ADDED          '' → version                      backend kind
-- VERSION_DELETED   version → ''                           backend kind
-- DEFAULT_VERSION   version → version ('' for none)
-- VISIBILITY        private → public, or back
-- GRANT                  '' → role                 user
-- REVOKE               role → ''                   user
-- ROLLOUT_STARTED  baseline → candidate                    strategy
-- ROLLOUT_STEP      percent → percent                      the step's note
-- ROLLOUT_PROMOTED baseline → candidate                    end reason
-- ROLLOUT_ROLLED_BACK candidate → baseline                 end reason
--
-- Idempotent, like 0002 and 0006: ResetModelDatabase applies every migration
-- again to the tables it re-creates.

CREATE TABLE IF NOT EXISTS model_history (
    id           bigserial   PRIMARY KEY,
    model        text        NOT NULL REFERENCES models (name) ON DELETE CASCADE,
    time         timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor        text        NOT NULL,
    kind         text        NOT NULL,
    before_value text        NOT NULL DEFAULT '',
    after_value  text        NOT NULL DEFAULT '',
    subject      text        NOT NULL DEFAULT '',
    detail       text        NOT NULL DEFAULT ''
);

CREATE INDEX IF NOT EXISTS model_history_newest ON model_history (model, id DESC);

-- One row of the model's history, unless the model is gone: the grants of a
-- model are deleted after its row (DeleteModel, a catalog sync), and its
-- versions by the cascade; those changes leave nothing to record, and must not
-- fail on the foreign key. The row is held FOR KEY SHARE, as the foreign key's
-- check holds it, so that a deletion committed meanwhile is seen here too.
CREATE OR REPLACE FUNCTION model_history_record(
    of_model text, change text, old_value text, new_value text,
    grantee text DEFAULT '', note text DEFAULT ''
) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM FROM models WHERE name = of_model FOR KEY SHARE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    INSERT INTO model_history (model, actor, kind, before_value, after_value, subject, detail)
    VALUES (
        of_model,
        COALESCE(NULLIF(current_setting('modelgw.actor', true), ''), 'db:' || current_user),
        change,
        COALESCE(old_value, ''),
        COALESCE(new_value, ''),
        COALESCE(grantee, ''),
        COALESCE(note, '')
    );
END
$$;

CREATE OR REPLACE FUNCTION model_history_models() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM model_history_record(NEW.name, 'MODEL_CREATED', '', '', '', NEW.display_name);
    ELSE
        PERFORM model_history_record(
            NEW.name, 'DEFAULT_VERSION', OLD.default_version, NEW.default_version);
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER models_history_created
    AFTER INSERT ON models
    FOR EACH ROW EXECUTE FUNCTION model_history_models();

CREATE OR REPLACE TRIGGER models_history_default_version
    AFTER UPDATE OF default_version ON models
    FOR EACH ROW WHEN (OLD.default_version IS DISTINCT FROM NEW.default_version)
    EXECUTE FUNCTION model_history_models();

CREATE OR REPLACE FUNCTION model_history_versions() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM model_history_record(
            NEW.model, 'VERSION_ADDED', '', NEW.version, '', NEW.backend_kind);
    ELSE
        PERFORM model_history_record(
            OLD.model, 'VERSION_DELETED', OLD.version, '', '', OLD.backend_kind);
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER model_versions_history
    AFTER INSERT OR DELETE ON model_versions
    FOR EACH ROW EXECUTE FUNCTION model_history_versions();

-- The g-lines of a model (authz/grants.py): ('user:NAME', 'role:ROLE', model)
-- is a grant, ('group:everyone', 'role:reader', model) makes the model public.
-- Any other line grants nothing on a model and is not recorded.
CREATE OR REPLACE FUNCTION model_history_grants() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    line casbin_rule%ROWTYPE;
    granted text;
    added boolean := TG_OP = 'INSERT';
BEGIN
    IF added THEN
        line := NEW;
    ELSE
        line := OLD;
    END IF;
    IF line.ptype <> 'g' OR line.v2 = '' OR line.v1 NOT LIKE 'role:_%' THEN
        RETURN NULL;
    END IF;
    granted := substr(line.v1, length('role:') + 1);
    IF line.v0 = 'group:everyone' AND granted = 'reader' THEN
        PERFORM model_history_record(
            line.v2, 'VISIBILITY',
            CASE WHEN added THEN 'private' ELSE 'public' END,
            CASE WHEN added THEN 'public' ELSE 'private' END);
    ELSIF line.v0 LIKE 'user:_%' THEN
        PERFORM model_history_record(
            line.v2,
            CASE WHEN added THEN 'GRANT' ELSE 'REVOKE' END,
            CASE WHEN added THEN '' ELSE granted END,
            CASE WHEN added THEN granted ELSE '' END,
            substr(line.v0, length('user:') + 1));
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER casbin_rule_history
    AFTER INSERT OR DELETE ON casbin_rule
    FOR EACH ROW EXECUTE FUNCTION model_history_grants();

-- A share as people write it: 10, 12.5, 100.
CREATE OR REPLACE FUNCTION model_history_percent(share double precision) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT trim_scale(share::numeric)::text
$$;

-- A rollout's start, its end (promoted or rolled back) and every other change
-- of its share; an end moves the share too (to 100 or 0), recorded as the end.
CREATE OR REPLACE FUNCTION model_history_rollouts() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM model_history_record(
            NEW.model, 'ROLLOUT_STARTED', NEW.baseline, NEW.candidate, '', NEW.strategy);
    ELSIF NEW.state = 'promoted' AND OLD.state <> 'promoted' THEN
        PERFORM model_history_record(
            NEW.model, 'ROLLOUT_PROMOTED', NEW.baseline, NEW.candidate, '', NEW.end_reason);
    ELSIF NEW.state = 'rolled_back' AND OLD.state <> 'rolled_back' THEN
        PERFORM model_history_record(
            NEW.model, 'ROLLOUT_ROLLED_BACK', NEW.candidate, NEW.baseline, '', NEW.end_reason);
    ELSIF NEW.percent IS DISTINCT FROM OLD.percent THEN
        PERFORM model_history_record(
            NEW.model, 'ROLLOUT_STEP',
            model_history_percent(OLD.percent), model_history_percent(NEW.percent), '',
            NEW.steps -> -1 ->> 'note');
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER rollouts_history
    AFTER INSERT OR UPDATE OF state, percent ON rollouts
    FOR EACH ROW EXECUTE FUNCTION model_history_rollouts();
