-- Bulk curation as jobs. A tagExamples, undoTagOperation, archiveExamples or restoreExamples over more examples
-- than TUNEYARD_BULK_JOB_THRESHOLD runs as a CURATION job that walks the example ids in order, one range of them
-- (a chunk) per transaction. A run is that walk. Each chunk's transaction writes its changes, its part of the
-- tag-operation log and the run's resume point together, so a job retried after its worker died goes on after the
-- last chunk that committed: no chunk is done twice, none is skipped.
CREATE TABLE curation_runs (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    action        text NOT NULL CHECK (action IN ('TAG', 'UNDO', 'ARCHIVE', 'RESTORE')),
    filter        jsonb,             -- ARCHIVE, RESTORE: the filter document (TAG: its operation's; UNDO: none)
    job_id        bigint,            -- the job running it (jobs.id), once that exists
    -- It walks the ids first_id < id <= last_id: the examples (for an UNDO, those its operation logged) that existed
    -- when it started. Examples recorded later are left alone.
    first_id      bigint NOT NULL,
    last_id       bigint NOT NULL,
    done_through  bigint NOT NULL,   -- the resume point: every id up to it is done, in chunks that committed
    changed       bigint NOT NULL DEFAULT 0,   -- examples whose tags (or archived flag) it changed so far
    chunks        integer NOT NULL DEFAULT 0,  -- chunks committed
    created_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at   timestamptz,       -- when its last chunk committed
    CHECK (first_id <= done_through AND done_through <= last_id)
);

-- A tag operation applied by a run, and the run undoing one (NULL: applied or undone inline, or not undone).
ALTER TABLE tag_operations
    ADD COLUMN run_id bigint REFERENCES curation_runs (id),
    ADD COLUMN undo_run_id bigint REFERENCES curation_runs (id);
