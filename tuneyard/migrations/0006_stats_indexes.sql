-- Narrow covering indexes: stats over a million examples read these (index-only) instead of the wide rows.
CREATE INDEX examples_stats_idx ON examples (created_at)
    INCLUDE (quality_score, success, intent, platform, tags) WHERE NOT archived;
-- Only the examples that have tags, for counts by tag.
CREATE INDEX examples_tagged_stats_idx ON examples (created_at)
    INCLUDE (quality_score, success, intent, platform, tags) WHERE NOT archived AND tags <> '{}';
