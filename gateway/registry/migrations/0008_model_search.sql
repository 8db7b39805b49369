-- What SearchModels (gateway/registry/search.py) searches: one row per model
-- in model_search, narrow so that ranking thousands of matches reads few
-- pages (a weighted tsvector of its searchable fields, its title, tags and
-- backend kinds), and one in model_search_text with the texts of those fields
-- and a tsvector of each, which only the page's hits read (snippet, matched
-- fields). Both are kept current by triggers on models and model_versions, in
-- the writing transaction. Weights: the name (also split on dots, hyphens and underscores)
-- and display name A, tags B, description C, and the field names, titles and
-- descriptions of the input and output schemas of the version the model
-- resolves to (its default version, else its latest) D.
--
-- pg_trgm, when this database may have it, serves the typo-tolerant fallback
-- (word_similarity over `title`: the name, display name and tags, short
-- enough to compare against every candidate within milliseconds). It is a
-- trusted extension from PostgreSQL 13, so the database's owner (the gateway's role under `modelgw up`) may create
-- it; where it may not, the migration goes on without it and the search falls
-- back to prefix matching instead.
--
-- Idempotent, like 0002: ResetModelDatabase applies every migration again to
-- the tables it re-creates.

CREATE TABLE IF NOT EXISTS model_search (
    model       text PRIMARY KEY REFERENCES models (name) ON DELETE CASCADE,
    title       text     NOT NULL,
    tag_list    text[]   NOT NULL,
    kinds       text[]   NOT NULL,
    document    tsvector NOT NULL
);

-- fields: to_tsvector('english', ...) of each text column, in column order.
CREATE TABLE IF NOT EXISTS model_search_text (
    model       text PRIMARY KEY REFERENCES models (name) ON DELETE CASCADE,
    name_words  text       NOT NULL,
    display     text       NOT NULL,
    description text       NOT NULL,
    tags        text       NOT NULL,
    input       text       NOT NULL,
    output      text       NOT NULL,
    fields      tsvector[] NOT NULL
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
    t model_search_text%ROWTYPE;
BEGIN
    SELECT * INTO m FROM models WHERE name = target;
    IF NOT FOUND THEN
        DELETE FROM model_search WHERE model = target;
        DELETE FROM model_search_text WHERE model = target;
        RETURN;
    END IF;
    SELECT v.input_schema, v.output_schema INTO schema_in, schema_out
      FROM model_versions v WHERE v.model = target
     ORDER BY (v.version = m.default_version) IS TRUE DESC, v.seq DESC LIMIT 1;
    t.model := target;
    t.name_words := model_search_words(m.name);
    t.display := m.display_name;
    t.description := m.description;
    t.tags := coalesce((SELECT string_agg(model_search_words(x), ' ') FROM unnest(m.tags) x), '');
    t.input := coalesce(model_search_schema_text(schema_in), '');
    t.output := coalesce(model_search_schema_text(schema_out), '');
    t.fields := ARRAY[to_tsvector('english', t.name_words), to_tsvector('english', t.display),
                      to_tsvector('english', t.description), to_tsvector('english', t.tags),
                      to_tsvector('english', t.input), to_tsvector('english', t.output)];
    INSERT INTO model_search_text VALUES (t.*) ON CONFLICT (model) DO UPDATE SET
        name_words = EXCLUDED.name_words, display = EXCLUDED.display,
        description = EXCLUDED.description, tags = EXCLUDED.tags, input = EXCLUDED.input,
        output = EXCLUDED.output, fields = EXCLUDED.fields;
    INSERT INTO model_search AS s (model, title, tag_list, kinds, document)
    VALUES (target, concat_ws(' ', t.name_words, t.display, t.tags), m.tags,
            ARRAY(SELECT DISTINCT v.backend_kind FROM model_versions v WHERE v.model = target),
            setweight(t.fields[1] || t.fields[2], 'A') || setweight(t.fields[4], 'B')
            || setweight(t.fields[3], 'C') || setweight(t.fields[5] || t.fields[6], 'D'))
    ON CONFLICT (model) DO UPDATE SET
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
