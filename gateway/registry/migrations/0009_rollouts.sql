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
