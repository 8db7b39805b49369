-- Each model's admission limits (gateway/registry/limits.py): limit_* as its
-- owners set them, cap_* the most they may set, as superusers set it. 0 means
-- the platform's setting (MODELGW_MODEL_* and MODELGW_MODEL_*_CAP).
--
-- The execution servers keep the effective limits with the rest of what a model
-- runs, so a change to them is announced on modelgw_registry like a new
-- default version (0006), and reaches every catalog on commit.
--
-- Idempotent, like 0002 and 0006: ResetModelDatabase applies every migration
-- again to the tables it re-creates.

ALTER TABLE models
    ADD COLUMN IF NOT EXISTS limit_max_queued_jobs integer NOT NULL DEFAULT 0
        CHECK (limit_max_queued_jobs >= 0),
    ADD COLUMN IF NOT EXISTS limit_max_queued_records integer NOT NULL DEFAULT 0
        CHECK (limit_max_queued_records >= 0),
    ADD COLUMN IF NOT EXISTS limit_user_jobs_per_second double precision NOT NULL DEFAULT 0
        CHECK (limit_user_jobs_per_second >= 0),
    ADD COLUMN IF NOT EXISTS cap_max_queued_jobs integer NOT NULL DEFAULT 0
        CHECK (cap_max_queued_jobs >= 0),
    ADD COLUMN IF NOT EXISTS cap_max_queued_records integer NOT NULL DEFAULT 0
        CHECK (cap_max_queued_records >= 0),
    ADD COLUMN IF NOT EXISTS cap_user_jobs_per_second double precision NOT NULL DEFAULT 0
        CHECK (cap_user_jobs_per_second >= 0);

CREATE OR REPLACE TRIGGER models_notify_limits
    AFTER UPDATE OF limit_max_queued_jobs, limit_max_queued_records, limit_user_jobs_per_second,
        cap_max_queued_jobs, cap_max_queued_records, cap_user_jobs_per_second ON models
    FOR EACH ROW WHEN (
        (OLD.limit_max_queued_jobs, OLD.limit_max_queued_records, OLD.limit_user_jobs_per_second,
         OLD.cap_max_queued_jobs, OLD.cap_max_queued_records, OLD.cap_user_jobs_per_second)
        IS DISTINCT FROM
        (NEW.limit_max_queued_jobs, NEW.limit_max_queued_records, NEW.limit_user_jobs_per_second,
         NEW.cap_max_queued_jobs, NEW.cap_max_queued_records, NEW.cap_user_jobs_per_second)
    )
    EXECUTE FUNCTION notify_registry_change();
