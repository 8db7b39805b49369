-- What SearchModels (gateway/registry/search.py) searches: one row per model
-- holding the texts of its searchable fields and a weighted tsvector of them,
-- kept current by triggers on models and model_versions, in the writing
-- transaction. Weights: the name (also split on dots, hyphens and underscores)
-- and display name A, tags B, description C, and the field names, titles and
-- descriptions of the input and output schemas of the version the model
-- resolves to (its default version, else its latest) D.
--
-- pg_trgm, when this database may have it, serves the typo-tolerant fallback
-- (word_similarity over `title`: the name, display name and tags, short
-- enough to compare against every candidate within milliseconds). It is a trusted extension from PostgreSQL 13,
-- so the database's owner (the gateway's role under `modelgw up`) may create
-- it; where it may not, the migration goes on without it and the search falls
-- back to prefix matching instead.
--
-- Idempotent, like 0002: ResetModelDatabase applies every migration again to
-- the tables it re-creates.

CREATE TABLE IF NOT EXISTS model_search (
    model       text PRIMARY KEY REFERENCES models (name) ON DELETE CASCADE,
    name_words  text     NOT NULL,
    display     text     NOT NULL,
    description text     NOT NULL,
    tags        text     NOT NULL,
    input       text     NOT NULL,
    output      text     NOT NULL,
    title       text     NOT NULL,
    tag_list    text[]   NOT NULL,
    kinds       text[]   NOT NULL,
    document    tsvector NOT NULL
);

CREATE INDEX IF NOT EXISTS model_search_document ON model_search USING gin (document);

-- Words of an identifier: itself, then split on separators and camelCase.
CREATE OR REPLACE FUNCTION model_search_words(identifier text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT identifier || ' ' || regexp_replace(
        regexp_replace(identifier, '([a-z0-9])([A-Z])', '\1 \2', 'g'), '[._:-]+', ' ', 'g')
$$;

-- The searchable text of a JSON Schema: its title and description, and each of
-- its properties' name, title and description.
CREATE OR REPLACE FUNCTION model_search_schema_text(schema jsonb) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT concat_ws(' ', schema ->> 'title', schema ->> 'description', (
        SELECT string_agg(concat_ws(' ', model_search_words(p.key),
                                    p.value ->> 'title', p.value ->> 'description'), ' ')
          FROM jsonb_each(CASE WHEN jsonb_typeof(schema -> 'properties') = 'object'
                               THEN schema -> 'properties' ELSE '{}'::jsonb END) AS p))
$$;

CREATE OR REPLACE FUNCTION model_search_refresh(target text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    m models%ROWTYPE;
    schema_in jsonb;
    schema_out jsonb;
    words text;
    tag_text text;
    kind_list text[];
BEGIN
    SELECT * INTO m FROM models WHERE name = target;
    IF NOT FOUND THEN
        DELETE FROM model_search WHERE model = target;
        RETURN;
    END IF;
    SELECT v.input_schema, v.output_schema INTO schema_in, schema_out
      FROM model_versions v WHERE v.model = target
     ORDER BY (v.version = m.default_version) IS TRUE DESC, v.seq DESC LIMIT 1;
    kind_list := ARRAY(SELECT DISTINCT v.backend_kind FROM model_versions v WHERE v.model = target);
    words := model_search_words(m.name);
    tag_text := coalesce((SELECT string_agg(model_search_words(t), ' ') FROM unnest(m.tags) t), '');
    INSERT INTO model_search AS s
        (model, name_words, display, description, tags, input, output, title, tag_list, kinds,
         document)
    SELECT target, words, m.display_name, m.description, tag_text, i, o,
           concat_ws(' ', words, m.display_name, tag_text), m.tags, kind_list,
           setweight(to_tsvector('english', words || ' ' || m.display_name), 'A')
           || setweight(to_tsvector('english', tag_text), 'B')
           || setweight(to_tsvector('english', m.description), 'C')
           || setweight(to_tsvector('english', i || ' ' || o), 'D')
      FROM coalesce(model_search_schema_text(schema_in), '') i,
           coalesce(model_search_schema_text(schema_out), '') o
    ON CONFLICT (model) DO UPDATE SET
        name_words = EXCLUDED.name_words, display = EXCLUDED.display,
        description = EXCLUDED.description, tags = EXCLUDED.tags, input = EXCLUDED.input,
        output = EXCLUDED.output,
        title = EXCLUDED.title, tag_list = EXCLUDED.tag_list, kinds = EXCLUDED.kinds,
        document = EXCLUDED.document;
END
$$;

CREATE OR REPLACE FUNCTION model_search_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'models' THEN
        PERFORM model_search_refresh(NEW.name);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM model_search_refresh(OLD.model);
    ELSE
        PERFORM model_search_refresh(NEW.model);
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER models_search
    AFTER INSERT OR UPDATE OF display_name, description, tags, default_version ON models
    FOR EACH ROW EXECUTE FUNCTION model_search_changed();

CREATE OR REPLACE TRIGGER model_versions_search
    AFTER INSERT OR DELETE ON model_versions
    FOR EACH ROW EXECUTE FUNCTION model_search_changed();

SELECT model_search_refresh(name) FROM models;

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'pg_trgm')
       AND EXISTS (SELECT FROM pg_available_extensions WHERE name = 'pg_trgm') THEN
        BEGIN
            CREATE EXTENSION pg_trgm;
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE NOTICE 'pg_trgm not created (%): search falls back to prefixes', SQLERRM;
        END;
    END IF;
    IF EXISTS (SELECT FROM pg_extension WHERE extname = 'pg_trgm') THEN
        EXECUTE 'CREATE INDEX IF NOT EXISTS model_search_trigrams'
                ' ON model_search USING gin (title gin_trgm_ops)';
    END IF;
END
$$;
