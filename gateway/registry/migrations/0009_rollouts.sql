-- Rollouts: a model's traffic shifted from its default version (the baseline)
-- to a candidate version, by a strategy, under guardrails (rollouts/, the
-- rollout service). At most one rollout per model is active: the partial
-- unique index makes two concurrent starts end with one winner, whatever
-- server each reached.
--
-- percent is the candidate's share of the submissions that name no version;
-- the execution servers' catalogs keep it with the rest of what a model runs,
-- so any change to a rollout is announced on modelgw_registry like a new
-- default version (0006) and reaches every catalog on commit.
--
-- Idempotent, like 0002 and 0006: ResetModelDatabase applies every migration
-- again to the tables it re-creates.

CREATE TABLE IF NOT EXISTS rollouts (
    id          uuid        PRIMARY KEY,
    model       text        NOT NULL REFERENCES models (name) ON DELETE CASCADE,
    baseline    text        NOT NULL,
    candidate   text        NOT NULL,
    strategy    text        NOT NULL CHECK (strategy IN ('blue_green', 'canary', 'linear')),
    state       text        NOT NULL CHECK (state IN ('active', 'promoted', 'rolled_back')),
    percent     double precision NOT NULL CHECK (percent >= 0 AND percent <= 100),
    -- The strategy's parameters and the guardrails, as started.
    plan        jsonb       NOT NULL DEFAULT '{}',
    started_by  text        NOT NULL,
    start_time  timestamptz NOT NULL DEFAULT clock_timestamp(),
    -- When percent last changed: a linear strategy's next step counts from here.
    step_time   timestamptz NOT NULL DEFAULT clock_timestamp(),
    ended_by    text        NOT NULL DEFAULT '',
    end_time    timestamptz,
    end_reason  text        NOT NULL DEFAULT '',
    -- The baseline's and the candidate's figures when the rollout ended.
    figures     jsonb       NOT NULL DEFAULT '{}',
    -- Every change of percent: [{time, percent, actor, note}].
    steps       jsonb       NOT NULL DEFAULT '[]'
);

CREATE UNIQUE INDEX IF NOT EXISTS rollouts_one_active ON rollouts (model) WHERE state = 'active';
CREATE INDEX IF NOT EXISTS rollouts_history ON rollouts (model, start_time DESC);

CREATE OR REPLACE TRIGGER rollouts_notify
    AFTER INSERT OR UPDATE OR DELETE ON rollouts
    FOR EACH ROW EXECUTE FUNCTION notify_registry_change();

-- Every start, step, promotion and rollback is a change of a rollouts row, so
-- the audit outbox (0002) records it, with the actor the writer named and the
-- figures the row carries (each step's, and the end's), in the same transaction.
CREATE OR REPLACE TRIGGER rollouts_audit
    AFTER INSERT OR UPDATE OR DELETE ON rollouts
    FOR EACH ROW EXECUTE FUNCTION modelgw_audit.record_change();

-- The baseline and the candidate of an active rollout cannot be deleted, by any
-- path (the API, a catalog sync, psql): traffic is being split between them.
-- SQLSTATE MGR01 is mapped to FAILED_PRECONDITION by the gateway's interceptor.
CREATE OR REPLACE FUNCTION refuse_rollout_version_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    active uuid;
BEGIN
    SELECT id INTO active FROM rollouts
    WHERE model = OLD.model AND state = 'active' AND OLD.version IN (baseline, candidate);
    IF active IS NOT NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = 'MGR01',
            MESSAGE = format(
                'model %s has an active rollout (%s) of version %s; promote or roll it back first',
                OLD.model, active, OLD.version);
    END IF;
    RETURN OLD;
END
$$;

CREATE OR REPLACE TRIGGER model_versions_rollout_guard
    BEFORE DELETE ON model_versions
    FOR EACH ROW EXECUTE FUNCTION refuse_rollout_version_delete();
