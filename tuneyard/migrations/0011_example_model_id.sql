-- Which model made each decision (a Tuneyard model id or a provider's model id), to compare models in production.
ALTER TABLE examples ADD COLUMN model_id text
    CHECK (length(model_id) BETWEEN 1 AND 255 AND btrim(model_id) <> '');

-- The view lists the columns `e.*` had when it was made: make it again so that it reads model_id too.
DROP VIEW example_rows;
CREATE VIEW example_rows AS
SELECT e.*, coalesce(t.tags, '{}'::text[]) AS tags
FROM examples e LEFT JOIN example_tags t ON t.example_id = e.id;

-- Serves `modelId = X` newest first without sorting. Partial: examples without a model id cost it nothing.
CREATE INDEX examples_model_idx ON examples (model_id, created_at DESC, id DESC)
    WHERE model_id IS NOT NULL AND NOT archived;

-- The stats scan groups by model too: the covering index carries model_id so that it stays index-only.
DROP INDEX examples_stats_idx;
CREATE INDEX examples_stats_idx ON examples (id)
    INCLUDE (created_at, quality_score, success, intent, platform, model_id) WHERE NOT archived;

-- Frozen with each dataset member: provenance, never training text. Members frozen before have none.
ALTER TABLE dataset_examples ADD COLUMN model_id text;
