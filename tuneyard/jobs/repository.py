"""SQL for jobs and their events. Every status change is guarded by the statuses it may leave.

A change that is visible to clients bumps `version` and appends the matching event in the same
statement; heartbeats, checkpoints, resumes and message re-sends change neither. The writes of a run are
fenced by its claim: `attempts` must still be the number it claimed the job with.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from tuneyard.core.db import Executor
from tuneyard.jobs.models import Job, JobEvent, JobKind, JobStatus

_COLUMNS = (
    "id, kind, status, progress, message, error, input, result, attempts, version, actor, queue, checkpoint, "
    "resume_at, created_at, started_at, finished_at"
)
_CHANGED_COLUMNS = ", ".join(f"j.{c.strip()}" for c in _COLUMNS.split(","))
# A run's claim still holds the job: it is the claim's attempt, and the job is active.
_HELD = "id = $1 AND attempts = $2 AND status IN ('RUNNING', 'CANCELLING')"


def _job(row: asyncpg.Record) -> Job:
    return Job(**{**dict(row.items()), "kind": JobKind(row["kind"]), "status": JobStatus(row["status"])})


def _maybe_job(row: asyncpg.Record | None) -> Job | None:
    return None if row is None else _job(row)


def _with_event(update: str) -> str:
    """An UPDATE ... RETURNING j.* wrapped so that each row it changes also gets its event."""
    return f"""
    WITH changed AS ({update} RETURNING {_CHANGED_COLUMNS}),
    event AS (
        INSERT INTO job_events (job_id, seq, status, progress, message)
        SELECT id, version, status, progress, message FROM changed
    )
    SELECT {_COLUMNS} FROM changed
    """


async def insert(conn: Executor, kind: JobKind, actor: str, queue: str, input: Any, created_by: str | None) -> Job:
    row = await conn.fetchrow(
        f"""
        WITH created AS (
            INSERT INTO jobs (kind, actor, queue, input, created_by, message) VALUES ($1, $2, $3, $4, $5, 'queued')
            RETURNING {_COLUMNS}
        ), event AS (
            INSERT INTO job_events (job_id, seq, status, progress, message)
            SELECT id, version, status, progress, message FROM created
        )
        SELECT * FROM created
        """,
        kind.value, actor, queue, input, created_by,
    )  # fmt: skip
    assert row is not None
    return _job(row)


async def delete_unstarted(conn: Executor, job_id: int) -> bool:
    """Take back a job whose message could not be sent; false if a worker already has it."""
    status = await conn.execute("DELETE FROM jobs WHERE id = $1 AND status = 'QUEUED' AND attempts = 0", job_id)
    return status == "DELETE 1"


async def get(conn: Executor, job_id: int) -> Job | None:
    return _maybe_job(await conn.fetchrow(f"SELECT {_COLUMNS} FROM jobs WHERE id = $1", job_id))


def _list_condition(statuses: Sequence[JobStatus], kinds: Sequence[JobKind]) -> tuple[str, list[Any]]:
    conditions, params = ["TRUE"], []
    if statuses:
        params.append([s.value for s in statuses])
        conditions.append(f"status = ANY(${len(params)}::text[])")
    if kinds:
        params.append([k.value for k in kinds])
        conditions.append(f"kind = ANY(${len(params)}::text[])")
    return " AND ".join(conditions), params


async def page(
    conn: Executor, statuses: Sequence[JobStatus], kinds: Sequence[JobKind], after_id: int | None, limit: int
) -> list[Job]:
    """Jobs newest first, after the job `after_id` (keyset on id)."""
    condition, params = _list_condition(statuses, kinds)
    if after_id is not None:
        params.append(after_id)
        condition += f" AND id < ${len(params)}"
    params.append(limit)
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM jobs WHERE {condition} ORDER BY id DESC LIMIT ${len(params)}", *params
    )
    return [_job(r) for r in rows]


async def count(conn: Executor, statuses: Sequence[JobStatus], kinds: Sequence[JobKind]) -> int:
    condition, params = _list_condition(statuses, kinds)
    total: int = await conn.fetchval(f"SELECT count(*) FROM jobs WHERE {condition}", *params)
    return total


async def events(conn: Executor, job_id: int, last: int) -> list[JobEvent]:
    """The job's latest `last` events, oldest first."""
    rows = await conn.fetch(
        """SELECT seq, at, status, progress, message FROM (
               SELECT * FROM job_events WHERE job_id = $1 ORDER BY seq DESC LIMIT $2
           ) latest ORDER BY seq""",
        job_id, last,
    )  # fmt: skip
    return [JobEvent(r["seq"], r["at"], JobStatus(r["status"]), r["progress"], r["message"]) for r in rows]


async def claim(conn: Executor, job_id: int) -> Job | None:
    """QUEUED -> RUNNING for exactly one caller; None for every other (a duplicate delivery)."""
    row = await conn.fetchrow(
        _with_event(
            """UPDATE jobs j SET status = 'RUNNING', attempts = attempts + 1, version = version + 1,
                   message = 'running', started_at = coalesce(started_at, clock_timestamp()),
                   heartbeat_at = clock_timestamp()
               WHERE id = $1 AND status = 'QUEUED'"""
        ),
        job_id,
    )
    return _maybe_job(row)


async def resume(conn: Executor, job_id: int, early_seconds: float) -> Job | None:
    """Take up a deferred job that is due (within `early_seconds`) for exactly one caller, on the same attempt."""
    row = await conn.fetchrow(
        f"""UPDATE jobs SET resume_at = NULL, heartbeat_at = clock_timestamp()
            WHERE id = $1 AND status IN ('RUNNING', 'CANCELLING')
              AND resume_at <= clock_timestamp() + make_interval(secs => $2)
            RETURNING {_COLUMNS}""",
        job_id, early_seconds,
    )  # fmt: skip
    return _maybe_job(row)


async def set_progress(
    conn: Executor, job_id: int, attempt: int, progress: float, message: str | None, result: Any = None
) -> Job | None:
    """Record progress of the claim `attempt` (and its partial result, unless None); None if the claim is gone."""
    row = await conn.fetchrow(
        _with_event(
            f"""UPDATE jobs j SET progress = $3, message = coalesce($4, message), version = version + 1,
                    result = coalesce($5, result), heartbeat_at = clock_timestamp()
                WHERE {_HELD}"""
        ),
        job_id, attempt, progress, message, result,
    )  # fmt: skip
    return _maybe_job(row)


async def heartbeat(conn: Executor, job_id: int, attempt: int) -> JobStatus | None:
    """Say the claim is alive; its current status, or None if it lost the job."""
    status = await conn.fetchval(
        f"UPDATE jobs SET heartbeat_at = clock_timestamp() WHERE {_HELD} RETURNING status", job_id, attempt
    )
    return None if status is None else JobStatus(status)


async def save_checkpoint(conn: Executor, job_id: int, attempt: int, checkpoint: Any) -> bool:
    """Keep what a retry of the job resumes from; false if the claim `attempt` no longer holds the job."""
    status = await conn.execute(
        f"UPDATE jobs SET checkpoint = $3, heartbeat_at = clock_timestamp() WHERE {_HELD}", job_id, attempt, checkpoint
    )
    return status == "UPDATE 1"


async def defer(
    conn: Executor, job_id: int, attempt: int, seconds: float, message: str, progress: float | None, result: Any
) -> Job | None:
    """Let go of a running job until its delayed message comes back in `seconds` (at once if it is CANCELLING)."""
    row = await conn.fetchrow(
        _with_event(
            f"""UPDATE jobs j SET version = version + 1, message = $4, heartbeat_at = NULL,
                    resume_at = clock_timestamp() + make_interval(secs => CASE WHEN status = 'CANCELLING' THEN 0
                                                                               ELSE $3 END),
                    progress = coalesce($5, progress), result = coalesce($6, result)
                WHERE {_HELD}"""
        ),
        job_id, attempt, seconds, message, progress, result,
    )  # fmt: skip
    return _maybe_job(row)


async def finish(
    conn: Executor, job_id: int, attempt: int, status: JobStatus, message: str, result: Any, error: str | None
) -> Job | None:
    """RUNNING or CANCELLING -> a final status (CANCELLED only from CANCELLING); None if the claim is gone."""
    allowed = ["CANCELLING"] if status is JobStatus.CANCELLED else ["RUNNING", "CANCELLING"]
    row = await conn.fetchrow(
        _with_event(
            """UPDATE jobs j SET status = $3, message = $4, result = $5, error = $6, version = version + 1,
                   progress = CASE WHEN $3 = 'SUCCEEDED' THEN 1 ELSE progress END,
                   finished_at = clock_timestamp()
               WHERE id = $1 AND attempts = $2 AND status = ANY($7::text[])"""
        ),
        job_id, attempt, status.value, message, result, error, allowed,
    )  # fmt: skip
    return _maybe_job(row)


async def release(conn: Executor, job_id: int, attempt: int) -> Job | None:
    """Hand a job back as its worker stops, the claim not counted; a CANCELLING one stays so, due for its clean-up."""
    row = await conn.fetchrow(
        _with_event(
            f"""UPDATE jobs j SET version = version + 1, heartbeat_at = NULL, enqueued_at = clock_timestamp(),
                    status = CASE WHEN status = 'CANCELLING' THEN status ELSE 'QUEUED' END,
                    attempts = CASE WHEN status = 'CANCELLING' THEN attempts ELSE attempts - 1 END,
                    resume_at = CASE WHEN status = 'CANCELLING' THEN clock_timestamp() END,
                    message = CASE WHEN status = 'CANCELLING' THEN message
                                   ELSE 'worker stopped; waiting for another' END
                WHERE {_HELD}"""
        ),
        job_id, attempt,
    )  # fmt: skip
    return _maybe_job(row)


async def cancel(conn: Executor, job_id: int) -> Job | None:
    """QUEUED -> CANCELLED, RUNNING -> CANCELLING (a deferred one due at once); None if the job is in neither."""
    row = await conn.fetchrow(
        _with_event(
            """UPDATE jobs j SET version = version + 1,
                   status = CASE WHEN status = 'QUEUED' THEN 'CANCELLED' ELSE 'CANCELLING' END,
                   message = CASE WHEN status = 'QUEUED' THEN 'cancelled before it started' ELSE 'cancelling' END,
                   finished_at = CASE WHEN status = 'QUEUED' THEN clock_timestamp() END,
                   resume_at = CASE WHEN resume_at IS NOT NULL THEN clock_timestamp() END
               WHERE id = $1 AND status IN ('QUEUED', 'RUNNING')"""
        ),
        job_id,
    )
    return _maybe_job(row)


async def reap(conn: Executor, stale_seconds: float, max_attempts: int) -> list[Job]:
    """Held jobs whose worker stopped beating: back to QUEUED for another attempt, or FAILED after the last one.

    A stale CANCELLING job still has its clean-up to run (a provider's job to cancel): it becomes due again at
    once for another worker (resume_at now), or ends CANCELLED after the last attempt. A deferred job (resume_at
    set) has no worker to lose: `overdue` looks after it.
    """
    rows = await conn.fetch(
        _with_event(
            """UPDATE jobs j SET version = j.version + 1, heartbeat_at = NULL,
                   status = CASE WHEN j.attempts >= $2 THEN
                                     CASE WHEN j.status = 'CANCELLING' THEN 'CANCELLED' ELSE 'FAILED' END
                                 WHEN j.status = 'CANCELLING' THEN 'CANCELLING' ELSE 'QUEUED' END,
                   finished_at = CASE WHEN j.attempts >= $2 THEN clock_timestamp() END,
                   enqueued_at = clock_timestamp(),
                   attempts = CASE WHEN j.status = 'CANCELLING' AND j.attempts < $2 THEN j.attempts + 1
                                   ELSE j.attempts END,
                   resume_at = CASE WHEN j.status = 'CANCELLING' AND j.attempts < $2 THEN clock_timestamp() END,
                   error = CASE WHEN j.status = 'RUNNING' AND j.attempts >= $2 THEN format(
                       'worker lost: no heartbeat for %s s on attempt %s of %s; giving up', $1::float8, j.attempts, $2)
                       ELSE j.error END,
                   message = CASE WHEN j.status = 'CANCELLING' AND j.attempts >= $2 THEN
                                      'cancelled (its worker was lost; its clean-up may not have run)'
                                  WHEN j.status = 'CANCELLING' THEN 'cancelling: its worker was lost; cleaning up'
                                  WHEN j.attempts >= $2 THEN 'failed: worker lost'
                                  ELSE format('worker lost on attempt %s; retrying', j.attempts) END
               FROM (SELECT id FROM jobs
                     WHERE status IN ('RUNNING', 'CANCELLING') AND resume_at IS NULL
                       AND heartbeat_at < clock_timestamp() - make_interval(secs => $1)
                     FOR UPDATE SKIP LOCKED) stale
               WHERE j.id = stale.id AND j.status IN ('RUNNING', 'CANCELLING') AND j.resume_at IS NULL"""
        ),
        stale_seconds, max_attempts,
    )  # fmt: skip
    return [_job(r) for r in rows]


async def unclaimed(conn: Executor, after_seconds: float) -> list[Job]:
    """Jobs QUEUED for longer than `after_seconds`, marked as sent again now."""
    rows = await conn.fetch(
        f"""UPDATE jobs j SET enqueued_at = clock_timestamp()
            FROM (SELECT id FROM jobs WHERE status = 'QUEUED'
                    AND enqueued_at < clock_timestamp() - make_interval(secs => $1)
                  FOR UPDATE SKIP LOCKED) late
            WHERE j.id = late.id AND j.status = 'QUEUED'
            RETURNING {_CHANGED_COLUMNS}""",
        after_seconds,
    )
    return [_job(r) for r in rows]


async def overdue(conn: Executor, after_seconds: float) -> list[Job]:
    """Deferred jobs still waiting `after_seconds` past their time (their delayed message lost), due again now."""
    rows = await conn.fetch(
        f"""UPDATE jobs j SET resume_at = clock_timestamp()
            FROM (SELECT id FROM jobs WHERE resume_at < clock_timestamp() - make_interval(secs => $1)
                    AND status IN ('RUNNING', 'CANCELLING')
                  FOR UPDATE SKIP LOCKED) late
            WHERE j.id = late.id AND j.resume_at IS NOT NULL
            RETURNING {_CHANGED_COLUMNS}""",
        after_seconds,
    )
    return [_job(r) for r in rows]
