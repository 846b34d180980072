"""Jobs: start, read, list, cancel and recover background jobs; the API every job kind is built on.

A job is a row in `jobs` (the truth) plus a Dramatiq message on Redis carrying only its id. To add a
job kind (EXPORT, say):

1. The work, in a service (it never imports Strawberry or Dramatiq)::

       # tuneyard/services/exports.py
       from tuneyard.jobs.service import JobFailed, JobRun

       async def run_export(run: JobRun) -> dict[str, Any]:
           dataset_id, fmt = run.input["datasetId"], run.input["format"]   # the JSON given at creation
           temp = ...                                    # run.pool is the worker's asyncpg pool
           try:
               for done, chunk in enumerate(chunks, 1):
                   await run.checkpoint()                # raises JobCancelled once cancelJob was called
                   ...write chunk...
                   await run.progress(done / len(chunks), f"{done} of {len(chunks)} chunks")  # throttled
           except BaseException:
               temp.unlink(missing_ok=True)              # clean up on cancel, failure or worker stop
               raise
           if problems_are_fatal:
               raise JobFailed("line 12: messages must alternate")   # -> FAILED, with this error
           return {"exportId": ..., "lineCount": ...}    # -> SUCCEEDED, progress 1, this result

2. The actor, registered by name in a module under tuneyard/workers/actors/ (every module there is
   imported by workers; nothing else to edit)::

       # tuneyard/workers/actors/exports.py
       from tuneyard.datasets.exports.service import run_export
       from tuneyard.core.queue import job_actor

       job_actor("export.run")(run_export)

3. Starting it, from a resolver, after any validation::

       job = await jobs.create_and_enqueue(pool, JobKind.EXPORT, {"datasetId": 3, "format": "RAW"},
                                           actor="export.run", created_by=principal.name)

   The row is committed before the message is sent. If Redis is down this raises UnavailableError
   (code UNAVAILABLE) and deletes the row again: no orphan QUEUED job is left behind.

What the framework guarantees around `work(run)`: the job is claimed in SQL (QUEUED -> RUNNING, once,
so a duplicate message does nothing); a heartbeat runs beside the work; `run.progress` events are at
most one per TUNEYARD_JOB_PROGRESS_INTERVAL (0.1 s) but the latest is always written; returning ends
SUCCEEDED, JobCancelled ends CANCELLED, any TuneyardError ends FAILED with its message, any other
exception ends FAILED with a masked message (logged in the worker). Set `run.result` as you go to keep a
partial result on CANCELLED/FAILED. Work must be safe to retry: a worker that dies mid-job has it
retried (attempts + 1) up to TUNEYARD_JOB_MAX_ATTEMPTS, then FAILED with the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from tuneyard.core import queue as broker
from tuneyard.core.errors import ConflictError, NotFoundError, UnavailableError, ValidationError
from tuneyard.core.page import check_page_size, decode_id_cursor, encode_id_cursor
from tuneyard.jobs import repository as repo
from tuneyard.jobs.models import MAX_EVENTS, Job, JobEvent, JobKind, JobStatus
from tuneyard.jobs.progress import announce
from tuneyard.jobs.runner import JobCancelled, JobFailed, JobRun, RunEnv, execute

__all__ = [
    "JobCancelled", "JobFailed", "JobRun", "RunEnv", "cancel", "count", "create_and_enqueue", "events",
    "execute", "get", "page", "recover",
]  # fmt: skip

log = logging.getLogger(__name__)


async def create_and_enqueue(
    pool: asyncpg.Pool, kind: JobKind, input: Any, *, actor: str, created_by: str | None = None
) -> Job:
    """Commit a QUEUED job, then send its message; UNAVAILABLE (and no row) if Redis cannot take it."""
    job = await repo.insert(pool, kind, actor, input, created_by)
    try:
        await asyncio.to_thread(broker.enqueue, actor, job.id)
    except UnavailableError:
        await repo.delete_unstarted(pool, job.id)
        raise
    await announce(job)
    return job


def parse_id(job_id: str | int) -> int:
    try:
        return int(job_id)
    except ValueError:
        raise NotFoundError(f"no job with id {job_id!r}") from None


async def get(pool: asyncpg.Pool, job_id: str | int) -> Job | None:
    return await repo.get(pool, parse_id(job_id))


@dataclass(frozen=True, slots=True)
class JobPage:
    jobs: list[Job]
    cursors: list[str]
    has_next_page: bool


async def page(
    pool: asyncpg.Pool, statuses: Sequence[JobStatus], kinds: Sequence[JobKind], first: int, after: str | None
) -> JobPage:
    """Jobs newest first, keyset-paginated."""
    check_page_size(first)
    after_id = None if after is None else decode_id_cursor("job", after)
    found = await repo.page(pool, statuses, kinds, after_id, first + 1)
    jobs = found[:first]
    return JobPage(jobs, [encode_id_cursor("job", j.id) for j in jobs], len(found) > first)


async def count(pool: asyncpg.Pool, statuses: Sequence[JobStatus], kinds: Sequence[JobKind]) -> int:
    return await repo.count(pool, statuses, kinds)


async def events(pool: asyncpg.Pool, job_id: int, last: int) -> list[JobEvent]:
    if not 0 <= last <= MAX_EVENTS:
        raise ValidationError(f"last: must be between 0 and {MAX_EVENTS}, got {last}")
    return await repo.events(pool, job_id, last)


async def cancel(pool: asyncpg.Pool, job_id: str | int) -> Job:
    """QUEUED -> CANCELLED at once; RUNNING -> CANCELLING (the work stops at its next checkpoint)."""
    number = parse_id(job_id)
    job = await repo.cancel(pool, number)
    if job is not None:
        await announce(job)
        return job
    existing = await repo.get(pool, number)
    if existing is None:
        raise NotFoundError(f"no job with id {job_id!r}")
    if existing.status is JobStatus.CANCELLING:
        return existing  # already on its way: cancelling twice is not an error
    raise ConflictError(
        f"job {number} is already {existing.status.value}; only a queued or running job can be cancelled"
    )


async def recover(pool: asyncpg.Pool, stale_seconds: float, max_attempts: int, requeue_seconds: float) -> list[Job]:
    """One pass of the reaper: retry or fail jobs whose worker died, and re-send messages that were lost.

    Safe to run from any number of workers and servers at once (rows are taken with SKIP LOCKED).
    Returns the jobs it moved.
    """
    moved = await repo.reap(pool, stale_seconds, max_attempts)
    for job in moved:
        log.warning("job %s: %s", job.id, job.error if job.status is JobStatus.FAILED else job.message)
        await announce(job)
    resend = [(j.id, j.actor) for j in moved if j.status is JobStatus.QUEUED]
    resend += await repo.unclaimed(pool, requeue_seconds)
    for job_id, actor in resend:
        with contextlib.suppress(UnavailableError):  # still QUEUED: a later pass sends it again
            await asyncio.to_thread(broker.enqueue, actor, job_id)
    return moved
