-- Background jobs. The row is the truth about a job; Redis only carries its queue message and
-- "job changed" notices. Every status change is an UPDATE ... WHERE status IN (...), so a late or
-- duplicate message can never move a job that has moved on.
CREATE TABLE jobs (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind          text NOT NULL CHECK (kind IN ('EXPORT', 'FINE_TUNE', 'BENCHMARK', 'MAINTENANCE')),
    actor         text NOT NULL,  -- the Dramatiq actor ("area.verb") that runs it
    status        text NOT NULL DEFAULT 'QUEUED'
                  CHECK (status IN ('QUEUED', 'RUNNING', 'CANCELLING', 'SUCCEEDED', 'FAILED', 'CANCELLED')),
    progress      double precision NOT NULL DEFAULT 0 CHECK (progress >= 0 AND progress <= 1),
    message       text,
    error         text,
    input         jsonb NOT NULL DEFAULT '{}',
    result        jsonb,
    -- Claims so far; the claim's number also fences a worker that lost the job to the reaper.
    attempts      integer NOT NULL DEFAULT 0,
    -- Bumped by every visible change; equals the seq of the job's latest event.
    version       integer NOT NULL DEFAULT 1,
    created_by    text,
    created_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    enqueued_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    started_at    timestamptz,
    finished_at   timestamptz,
    heartbeat_at  timestamptz
);

CREATE INDEX jobs_unfinished_idx ON jobs (status, heartbeat_at) WHERE status IN ('QUEUED', 'RUNNING', 'CANCELLING');
CREATE INDEX jobs_kind_idx ON jobs (kind, id DESC);

-- Append-only (repositories only INSERT here): what subscribers were told, in order.
CREATE TABLE job_events (
    job_id    bigint NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    seq       integer NOT NULL,
    at        timestamptz NOT NULL DEFAULT clock_timestamp(),
    status    text NOT NULL,
    progress  double precision NOT NULL,
    message   text,
    PRIMARY KEY (job_id, seq)
);
