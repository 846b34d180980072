"""Jobs: start, read, list and cancel background jobs; the API every job kind is built on.

How to add a job kind (declare its JobType, write its work against JobRun, bind it in a tasks module):
see the Jobs section of README.md.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

import asyncpg

from tuneyard.core import audit
from tuneyard.core import queue as broker
from tuneyard.core.db import Connection, transact
from tuneyard.core.errors import ConflictError, NotFoundError, UnavailableError, ValidationError
from tuneyard.core.ids import parse_id
from tuneyard.core.page import Page, check_page_size, decode_id_cursor, encode_id_cursor
from tuneyard.jobs import repository as repo
from tuneyard.jobs.models import MAX_EVENTS, InputT, Job, JobEvent, JobKind, JobModel, JobStatus, JobType
from tuneyard.jobs.progress import announce
from tuneyard.jobs.registry import job_task
from tuneyard.jobs.run import ContinueLater, JobCancelled, JobFailed, JobRun, WorkerStopping

__all__ = [
    "ContinueLater", "JobCancelled", "JobFailed", "JobModel", "JobRun", "JobType", "WorkerStopping", "cancel",
    "count", "create_and_enqueue", "events", "get", "job_task", "page", "send",
]  # fmt: skip


async def create_and_enqueue(
    pool: asyncpg.Pool, job_type: JobType[InputT, Any], input: InputT, *, created_by: str | None = None
) -> Job:
    """Commit a QUEUED job, then send its message; UNAVAILABLE (and no row, nor its audit entry) if Redis cannot
    take it."""

    async def insert(conn: Connection) -> Job:
        return await repo.insert(conn, job_type.kind, job_type.actor, job_type.queue, input.to_json(), created_by)

    job = await transact(pool, insert, affected=lambda _: 1)
    try:
        await asyncio.to_thread(broker.enqueue, job.actor, job.queue, job.id)
    except UnavailableError:
        await transact(pool, lambda conn: _take_back(conn, job.id))
        raise
    await announce(job)
    return job


async def _take_back(conn: Connection, job_id: int) -> None:
    """Delete a job whose message could not be sent, with the audit entry of the mutation that started it."""
    if await repo.delete_unstarted(conn, job_id):
        await audit.withdraw(conn)


async def send(job: Job, delay_seconds: float = 0.0) -> None:
    """Send a started job's message again (now, or after a delay); if Redis is down, a reaper sends it later."""
    with contextlib.suppress(UnavailableError):
        await asyncio.to_thread(broker.enqueue, job.actor, job.queue, job.id, delay_seconds)


async def get(pool: asyncpg.Pool, job_id: str | int) -> Job | None:
    """The job, or None for a well-formed id with no row (BAD_USER_INPUT for a malformed one)."""
    return await repo.get(pool, parse_id(job_id, "job"))


async def page(
    pool: asyncpg.Pool, statuses: Sequence[JobStatus], kinds: Sequence[JobKind], first: int, after: str | None
) -> Page[Job]:
    """Jobs newest first, keyset-paginated."""
    check_page_size(first)
    after_id = None if after is None else decode_id_cursor("job", after)
    found = await repo.page(pool, statuses, kinds, after_id, first + 1)
    return Page.of(found, first, lambda job: encode_id_cursor("job", job.id))


async def count(pool: asyncpg.Pool, statuses: Sequence[JobStatus], kinds: Sequence[JobKind]) -> int:
    return await repo.count(pool, statuses, kinds)


async def events(pool: asyncpg.Pool, job_id: int, last: int) -> list[JobEvent]:
    if not 0 <= last <= MAX_EVENTS:
        raise ValidationError(f"last: must be between 0 and {MAX_EVENTS}, got {last}")
    return await repo.events(pool, job_id, last)


async def cancel(pool: asyncpg.Pool, job_id: str | int) -> Job:
    """QUEUED -> CANCELLED at once; RUNNING -> CANCELLING (a waiting one due at once, to run its clean-up)."""
    number = parse_id(job_id, "job")

    async def work(conn: Connection) -> tuple[Job, bool]:
        job = await repo.cancel(conn, number)
        if job is not None:
            return job, True
        existing = await repo.get(conn, number)
        if existing is None:
            raise NotFoundError(f"no job with id {job_id!r}")
        if existing.status is JobStatus.CANCELLING:
            return existing, False  # already on its way: cancelling twice is not an error
        raise ConflictError(
            f"job {number} is already {existing.status.value}; only a queued or running job can be cancelled"
        )

    job, changed = await transact(pool, work, affected=lambda done: int(done[1]))
    if changed:
        await announce(job)
        if job.resume_at is not None:
            await send(job)
    return job
