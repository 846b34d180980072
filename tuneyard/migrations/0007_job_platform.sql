-- Jobs for long, paid, resumable work: kinds declared in code, a queue per kind, checkpoints, deferred runs.

-- Job kinds are registered in code (tuneyard.jobs.registry); a new kind needs no migration.
ALTER TABLE jobs DROP CONSTRAINT jobs_kind_check;

-- The Dramatiq queue the job's messages go to, kept on the row so that any reaper can re-send them.
ALTER TABLE jobs ADD COLUMN queue text;
UPDATE jobs SET queue = lower(kind);
ALTER TABLE jobs ALTER COLUMN queue SET NOT NULL;

-- What a run saved to resume from (a provider's job id, a training step); a retried run receives it.
ALTER TABLE jobs ADD COLUMN checkpoint jsonb;

-- Set while a RUNNING (or CANCELLING) job waits for its delayed message: no worker holds it and no heartbeat
-- is expected; a reaper re-sends the message once it is overdue.
ALTER TABLE jobs ADD COLUMN resume_at timestamptz;

CREATE INDEX jobs_deferred_idx ON jobs (resume_at) WHERE resume_at IS NOT NULL;
