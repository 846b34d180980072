-- purgeExamples: deleting archived examples that no dataset version holds, with a counted confirm. Examples can now
-- be deleted (0003 says they never are): tag_operation_changes still has no foreign key to them, and a purge deletes
-- their rows there itself, as it does their example_tags row.

-- "Is this example in a version?" for every example a purge considers: an index probe each, instead of a scan of
-- every frozen member per purge (or per example, when the planner misjudges how many match). Lineage
-- (datasets(containing:)) can use it too.
CREATE INDEX dataset_examples_example_idx ON dataset_examples (example_id);

-- How many of the examples an operation changed were purged since. Their logged changes go with them, so such an
-- operation can no longer be undone exactly, and undoTagOperation refuses it (CONFLICT) instead of half-undoing.
ALTER TABLE tag_operations ADD COLUMN purged_count integer NOT NULL DEFAULT 0;

-- The counts dry runs (confirm: "") reported for each purge filter, keyed by the sha256 of the filter's canonical JSON:
-- a confirm that differs from the number matching now, but that a dry run of the same filter reported, means the
-- examples changed since (CONFLICT); any other wrong confirm is a mistake (BAD_USER_INPUT). A successful purge forgets
-- its filter's entries.
CREATE TABLE purge_dry_runs (
    filter_key   text NOT NULL,
    deletable    integer NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),  -- the latest dry run that reported it
    PRIMARY KEY (filter_key, deletable)
);
