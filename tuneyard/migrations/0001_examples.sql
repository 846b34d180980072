-- Execution records from the orchestrator: the raw material of every dataset.
CREATE TABLE examples (
    id                       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    execution_id             text NOT NULL UNIQUE CHECK (length(execution_id) BETWEEN 1 AND 255),
    user_request             text NOT NULL CHECK (btrim(user_request) <> ''),
    intent                   text,
    platform                 text,
    business_state           jsonb,
    execution_plan           jsonb,
    execution_result         jsonb,
    quality_score            double precision CHECK (quality_score >= 0 AND quality_score <= 1),
    success                  boolean,
    archived                 boolean NOT NULL DEFAULT false,
    post_publication_metrics jsonb,
    patterns_discovered      text[],
    created_at               timestamptz NOT NULL DEFAULT now(),
    updated_at               timestamptz NOT NULL DEFAULT now()
);

-- Keyset pagination walks (sort key, id); the partial indexes serve the default "not archived" view.
CREATE INDEX examples_created_idx ON examples (created_at DESC, id DESC) WHERE NOT archived;
-- Quality orderings sort a missing score as -1 so that the keyset stays a plain row comparison.
CREATE INDEX examples_quality_idx ON examples ((coalesce(quality_score, -1)) DESC, id DESC) WHERE NOT archived;
CREATE INDEX examples_created_all_idx ON examples (created_at, id);
CREATE INDEX examples_quality_all_idx ON examples ((coalesce(quality_score, -1)), id);
-- Serves `intent = X` newest first without sorting (rare intents above all).
CREATE INDEX examples_intent_idx ON examples (intent, created_at DESC, id DESC) WHERE NOT archived;
CREATE INDEX examples_platform_idx ON examples (platform);
-- Word search over the request (the bundled PostgreSQL ships no pg_trgm, so full-text it is).
CREATE INDEX examples_user_request_fts_idx ON examples USING gin (to_tsvector('simple', user_request));

-- Tags live beside the examples, one narrow row per tagged example: tagging 100,000 examples writes
-- these rows only, never the wide example rows with their many indexes (ten times the work).
-- Each row's tags are a set, kept sorted ("C" order) and free of duplicates by every writer.
CREATE TABLE example_tags (
    example_id  bigint PRIMARY KEY REFERENCES examples (id),
    tags        text[] NOT NULL CHECK (cardinality(tags) > 0)
);
CREATE INDEX example_tags_tags_idx ON example_tags USING gin (tags);

-- Examples with their tags, for reading. A query that does not use `tags` never touches example_tags.
CREATE VIEW example_rows AS
SELECT e.*, coalesce(t.tags, '{}'::text[]) AS tags
FROM examples e LEFT JOIN example_tags t ON t.example_id = e.id;
