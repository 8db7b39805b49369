-- The model registry and its access policy.

CREATE TABLE models (
    name            text PRIMARY KEY,
    display_name    text        NOT NULL DEFAULT '',
    description     text        NOT NULL DEFAULT '',
    tags            text[]      NOT NULL DEFAULT '{}',
    backend         text        NOT NULL DEFAULT '',
    default_version text,
    create_time     timestamptz NOT NULL DEFAULT clock_timestamp(),
    update_time     timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- Versions are immutable: rows are inserted, never updated. seq orders them by
-- creation, which is what "latest" means when no default version is chosen.
CREATE TABLE model_versions (
    model          text        NOT NULL REFERENCES models (name) ON DELETE CASCADE,
    version        text        NOT NULL,
    seq            bigserial   NOT NULL UNIQUE,
    backend_kind   text        NOT NULL,
    backend_config jsonb       NOT NULL DEFAULT '{}',
    input_schema   jsonb       NOT NULL,
    output_schema  jsonb       NOT NULL,
    notes          text        NOT NULL DEFAULT '',
    create_time    timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (model, version)
);

CREATE INDEX model_versions_latest ON model_versions (model, seq DESC);

ALTER TABLE models
    ADD CONSTRAINT models_default_version_exists
    FOREIGN KEY (name, default_version) REFERENCES model_versions (model, version);

CREATE INDEX models_tags ON models USING gin (tags);

-- Casbin policy lines in the layout every Casbin database adapter uses.
-- Grants are g-lines: (ptype 'g', v0 user, v1 role, v2 model); a public model
-- is the g-line ('*', 'reader', model). The role-to-action p-lines are fixed
-- and live in authz/, not here.
CREATE TABLE casbin_rule (
    id    bigserial PRIMARY KEY,
    ptype text NOT NULL,
    v0    text NOT NULL DEFAULT '',
    v1    text NOT NULL DEFAULT '',
    v2    text NOT NULL DEFAULT '',
    v3    text NOT NULL DEFAULT '',
    v4    text NOT NULL DEFAULT '',
    v5    text NOT NULL DEFAULT '',
    UNIQUE (ptype, v0, v1, v2, v3, v4, v5)
);

CREATE INDEX casbin_rule_model ON casbin_rule (ptype, v2);
