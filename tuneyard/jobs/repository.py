"""SQL for jobs and their events. Every status change is guarded by the statuses it may leave.

A change that is visible to clients bumps `version` and appends the matching event in the same
statement; heartbeats and message re-sends change neither.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from tuneyard.jobs.models import Job, JobEvent, JobKind, JobStatus

Executor = asyncpg.Pool | asyncpg.Connection

_COLUMNS = (
    "id, kind, status, progress, message, error, input, result, attempts, version, actor, "
    "created_at, started_at, finished_at"
)
_CHANGED_COLUMNS = ", ".join(f"j.{c.strip()}" for c in _COLUMNS.split(","))


def _job(row: asyncpg.Record) -> Job:
    return Job(
        id=row["id"], kind=JobKind(row["kind"]), status=JobStatus(row["status"]), progress=row["progress"],
        message=row["message"], error=row["error"], input=row["input"], result=row["result"],
        attempts=row["attempts"], version=row["version"], actor=row["actor"], created_at=row["created_at"],
        started_at=row["started_at"], finished_at=row["finished_at"],
    )  # fmt: skip


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


async def insert(conn: Executor, kind: JobKind, actor: str, input: Any, created_by: str | None) -> Job:
    row = await conn.fetchrow(
        f"""
        WITH created AS (
            INSERT INTO jobs (kind, actor, input, created_by, message) VALUES ($1, $2, $3, $4, 'queued')
            RETURNING {_COLUMNS}
        ), event AS (
            INSERT INTO job_events (job_id, seq, status, progress, message)
            SELECT id, version, status, progress, message FROM created
        )
        SELECT * FROM created
        """,
        kind.value, actor, input, created_by,
    )  # fmt: skip
    assert row is not None
    return _job(row)


async def delete_unstarted(conn: Executor, job_id: int) -> bool:
    """Take back a job whose message could not be sent; false if a worker already has it."""
    status = await conn.execute("DELETE FROM jobs WHERE id = $1 AND status = 'QUEUED' AND attempts = 0", job_id)
    return status == "DELETE 1"


async def get(conn: Executor, job_id: int) -> Job | None:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM jobs WHERE id = $1", job_id)
    return None if row is None else _job(row)


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
    return None if row is None else _job(row)


async def set_progress(conn: Executor, job_id: int, attempt: int, progress: float, message: str | None) -> Job | None:
    """Record progress of the claim `attempt`; None if that claim no longer holds the job."""
    row = await conn.fetchrow(
        _with_event(
            """UPDATE jobs j SET progress = $3, message = coalesce($4, message), version = version + 1,
                   heartbeat_at = clock_timestamp()
               WHERE id = $1 AND attempts = $2 AND status IN ('RUNNING', 'CANCELLING')"""
        ),
        job_id, attempt, progress, message,
    )  # fmt: skip
    return None if row is None else _job(row)


async def heartbeat(conn: Executor, job_id: int, attempt: int) -> JobStatus | None:
    """Say the claim is alive; its current status, or None if it lost the job."""
    status = await conn.fetchval(
        """UPDATE jobs SET heartbeat_at = clock_timestamp()
           WHERE id = $1 AND attempts = $2 AND status IN ('RUNNING', 'CANCELLING') RETURNING status""",
        job_id, attempt,
    )  # fmt: skip
    return None if status is None else JobStatus(status)


async def status_of(conn: Executor, job_id: int) -> JobStatus | None:
    status = await conn.fetchval("SELECT status FROM jobs WHERE id = $1", job_id)
    return None if status is None else JobStatus(status)


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
    return None if row is None else _job(row)


async def release(conn: Executor, job_id: int, attempt: int) -> Job | None:
    """Hand a job back to the queue because its worker is stopping: that claim does not count as an attempt."""
    row = await conn.fetchrow(
        _with_event(
            """UPDATE jobs j SET version = version + 1, heartbeat_at = NULL, enqueued_at = clock_timestamp(),
                   status = CASE WHEN status = 'CANCELLING' THEN 'CANCELLED' ELSE 'QUEUED' END,
                   attempts = CASE WHEN status = 'CANCELLING' THEN attempts ELSE attempts - 1 END,
                   finished_at = CASE WHEN status = 'CANCELLING' THEN clock_timestamp() END,
                   message = CASE WHEN status = 'CANCELLING' THEN 'cancelled'
                                  ELSE 'worker stopped; waiting for another' END
               WHERE id = $1 AND attempts = $2 AND status IN ('RUNNING', 'CANCELLING')"""
        ),
        job_id, attempt,
    )  # fmt: skip
    return None if row is None else _job(row)


async def cancel(conn: Executor, job_id: int) -> Job | None:
    """QUEUED -> CANCELLED, RUNNING -> CANCELLING; None if the job is in neither."""
    row = await conn.fetchrow(
        _with_event(
            """UPDATE jobs j SET version = version + 1,
                   status = CASE WHEN status = 'QUEUED' THEN 'CANCELLED' ELSE 'CANCELLING' END,
                   message = CASE WHEN status = 'QUEUED' THEN 'cancelled before it started' ELSE 'cancelling' END,
                   finished_at = CASE WHEN status = 'QUEUED' THEN clock_timestamp() END
               WHERE id = $1 AND status IN ('QUEUED', 'RUNNING')"""
        ),
        job_id,
    )
    return None if row is None else _job(row)


async def reap(conn: Executor, stale_seconds: float, max_attempts: int) -> list[Job]:
    """Jobs whose worker stopped beating: back to QUEUED for another attempt, or FAILED after the last one.

    A stale CANCELLING job ends CANCELLED: nobody runs it any more, so nothing is left to stop.
    """
    rows = await conn.fetch(
        _with_event(
            """UPDATE jobs j SET version = j.version + 1, heartbeat_at = NULL,
                   status = CASE WHEN j.status = 'CANCELLING' THEN 'CANCELLED'
                                 WHEN j.attempts >= $2 THEN 'FAILED' ELSE 'QUEUED' END,
                   finished_at = CASE WHEN j.status = 'CANCELLING' OR j.attempts >= $2 THEN clock_timestamp() END,
                   enqueued_at = clock_timestamp(),
                   error = CASE WHEN j.status = 'RUNNING' AND j.attempts >= $2 THEN format(
                       'worker lost: no heartbeat for %s s on attempt %s of %s; giving up', $1::float8, j.attempts, $2)
                       ELSE j.error END,
                   message = CASE WHEN j.status = 'CANCELLING' THEN 'cancelled (its worker was lost)'
                                  WHEN j.attempts >= $2 THEN 'failed: worker lost'
                                  ELSE format('worker lost on attempt %s; retrying', j.attempts) END
               FROM (SELECT id FROM jobs
                     WHERE status IN ('RUNNING', 'CANCELLING')
                       AND heartbeat_at < clock_timestamp() - make_interval(secs => $1)
                     FOR UPDATE SKIP LOCKED) stale
               WHERE j.id = stale.id AND j.status IN ('RUNNING', 'CANCELLING')"""
        ),
        stale_seconds, max_attempts,
    )  # fmt: skip
    return [_job(r) for r in rows]


async def unclaimed(conn: Executor, after_seconds: float) -> list[tuple[int, str]]:
    """(id, actor) of jobs QUEUED for longer than `after_seconds`, marked as sent again now."""
    rows = await conn.fetch(
        """UPDATE jobs j SET enqueued_at = clock_timestamp()
           FROM (SELECT id FROM jobs WHERE status = 'QUEUED'
                   AND enqueued_at < clock_timestamp() - make_interval(secs => $1)
                 FOR UPDATE SKIP LOCKED) late
           WHERE j.id = late.id AND j.status = 'QUEUED'
           RETURNING j.id, j.actor""",
        after_seconds,
    )
    return [(r["id"], r["actor"]) for r in rows]
