-- A narrow covering index: stats over a million examples read it (index-only) instead of the wide rows.
-- Keyed on id, the key of the joins with example_tags that tag conditions make.
CREATE INDEX examples_stats_idx ON examples (id)
    INCLUDE (created_at, quality_score, success, intent, platform) WHERE NOT archived;
