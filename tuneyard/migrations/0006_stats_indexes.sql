-- A narrow covering index: stats over a million examples read it (index-only) instead of the wide rows;
-- `id` is there for the joins with example_tags that tag conditions make.
CREATE INDEX examples_stats_idx ON examples (created_at)
    INCLUDE (id, quality_score, success, intent, platform) WHERE NOT archived;
