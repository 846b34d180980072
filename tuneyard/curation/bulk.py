"""Bulk curation as jobs: a tag, undo, archive or restore over more examples than the threshold, run chunk by chunk.

Starting one writes its run (and, for tagging, its TagOperation, with nothing changed yet) and starts a CURATION
job; the job walks the ids in order, one chunk per transaction (see bulk_repository), and can be cancelled, retried
after its worker died, or handed to another worker at any point between chunks. A tag operation applied so is still
one operation: its log fills chunk by chunk under its id, and undoing it undoes every chunk that was done.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace

from tuneyard.core.db import Connection, Pool, transact
from tuneyard.core.errors import ConflictError, UnavailableError
from tuneyard.curation import bulk_repository as runs
from tuneyard.curation import repository as repo
from tuneyard.curation.models import (
    ARCHIVE_JOB,
    TAG_JOB,
    UNDO_JOB,
    Action,
    BulkInput,
    BulkResult,
    Step,
    TagOperation,
)
from tuneyard.examples.service import Filter, compile_filter
from tuneyard.jobs import service as jobs
from tuneyard.jobs.models import Job, JobType
from tuneyard.jobs.service import JobFailed, JobRun

Bulk = JobRun[BulkInput, BulkResult]


async def _start_job(
    pool: Pool, job_type: JobType[BulkInput, BulkResult], job_input: BulkInput, created_by: str | None,
    take_back: Callable[[Connection], Awaitable[None]],
) -> Job:  # fmt: skip
    """Start the job of a run just written; if it cannot start (Redis is down), take the run back and re-raise."""
    try:
        job = await jobs.create_and_enqueue(pool, job_type, job_input, created_by=created_by)
    except UnavailableError:
        await transact(pool, take_back)
        raise
    await runs.attach_job(pool, job_input.run_id, job.id)
    return job


async def start_tagging(
    pool: Pool, where: Filter, add: list[str], remove: list[str], note: str | None, created_by: str | None
) -> TagOperation:
    """The operation, with nothing changed yet, and the job that applies it."""

    async def start(conn: Connection) -> int:
        return await runs.start_operation(conn, add, remove, note, dict(where))

    operation_id = await transact(pool, start, affected=lambda _: 1)  # audited as "a job started"
    operation = await repo.get_operation(pool, operation_id)
    assert operation is not None and operation.run_id is not None
    run_id = operation.run_id

    async def take_back(conn: Connection) -> None:
        await runs.forget_start(conn, run_id, operation_id, None)

    job_input = BulkInput(run_id=run_id, action=Action.TAG.value, operation_id=operation_id)
    job = await _start_job(pool, TAG_JOB, job_input, created_by, take_back)
    return _with_job(operation, job_id=job.id)


async def start_undo(pool: Pool, operation: TagOperation, created_by: str | None) -> TagOperation:
    """Start the job that undoes the operation (going on from an undo job of it that stopped); the operation."""
    previous = None if operation.undo_run_id is None else await runs.get_run(pool, operation.undo_run_id)

    async def start(conn: Connection) -> int:
        run_id = await runs.start_undo(conn, operation.id, previous)
        if run_id is None:
            raise ConflictError(
                f"tag operation {operation.id} was undone, or its undo started, by another call meanwhile; "
                "nothing was changed"
            )
        return run_id

    run_id = await transact(pool, start, affected=lambda _: 1)

    async def take_back(conn: Connection) -> None:
        await runs.forget_start(conn, run_id, operation.id, operation.undo_run_id)

    job_input = BulkInput(run_id=run_id, action=Action.UNDO.value, operation_id=operation.id)
    job = await _start_job(pool, UNDO_JOB, job_input, created_by, take_back)
    started = await repo.get_operation(pool, operation.id)
    assert started is not None
    return _with_job(started, undo_job_id=job.id)


async def start_archiving(pool: Pool, where: Filter, archived: bool, created_by: str | None) -> Job:
    """Start the job that archives (or, `archived` false, restores) the examples matching `where`."""
    action = Action.ARCHIVE if archived else Action.RESTORE

    async def start(conn: Connection) -> int:
        return await runs.start_archive(conn, action, dict(where))

    run_id = await transact(pool, start, affected=lambda _: 1)

    async def take_back(conn: Connection) -> None:
        await runs.forget_start(conn, run_id, None, None)

    return await _start_job(pool, ARCHIVE_JOB, BulkInput(run_id=run_id, action=action.value), created_by, take_back)


def _with_job(operation: TagOperation, *, job_id: int | None = None, undo_job_id: int | None = None) -> TagOperation:
    """The operation with the job just started (its run did not name it yet when the operation was read)."""
    return replace(operation, job_id=job_id or operation.job_id, undo_job_id=undo_job_id or operation.undo_job_id)


async def check_undoable(pool: Pool, operation: TagOperation) -> None:
    """CONFLICT while the operation is still being applied, or undone, by a job that has not ended.

    Refused rather than waited for: an apply job may run for minutes, longer than a request should hang. Once it
    has ended (or been cancelled: cancelJob), the undo takes off exactly what its chunks did.
    """
    if operation.run_id is not None and not operation.complete and await _running(pool, operation.job_id):
        raise ConflictError(
            f"tag operation {operation.id} is still being applied by job {operation.job_id} "
            f"({operation.affected_count:,} examples changed so far); nothing was changed. Undo it once the job has "
            "ended, or cancel the job (cancelJob) first: the undo then takes off what its finished chunks did"
        )
    if operation.undo_run_id is not None and await _running(pool, operation.undo_job_id):
        raise ConflictError(
            f"tag operation {operation.id} is being undone by job {operation.undo_job_id}; nothing was changed. "
            "Follow that job (jobProgress)"
        )


async def undone_through(pool: Pool, operation: TagOperation) -> int:
    """The ids up to which an undo job of the operation that stopped has undone it (-1: none did)."""
    previous = None if operation.undo_run_id is None else await runs.get_run(pool, operation.undo_run_id)
    return -1 if previous is None else previous.done_through


async def _running(pool: Pool, job_id: int | None) -> bool:
    """Whether the job may still run chunks: it exists and has not ended. A run whose job was never linked (its
    server stopped in between) has none: chunks check the operation's state themselves, so that is safe."""
    if job_id is None:
        return False
    job = await jobs.get(pool, job_id)
    return job is not None and not job.status.final


# The jobs' work: each walks its run to the end, a chunk per transaction, stopping between chunks when asked.


async def apply_tags(run: Bulk) -> BulkResult:
    """curation.tag: apply a tag operation to the examples matching its filter, chunk by chunk."""
    operation_id = run.input.operation_id
    assert operation_id is not None
    spec = await runs.operation_spec(run.pool, operation_id)
    if spec is None:
        raise JobFailed(f"tag operation {operation_id} no longer exists")
    where = compile_filter(spec.filter)

    async def chunk(conn: Connection, span: int) -> Step:
        return await runs.tag_chunk(conn, run.input.run_id, operation_id, where, spec.added, spec.removed, span)

    return await _walk(run, chunk, "tagged")


async def undo_tags(run: Bulk) -> BulkResult:
    """curation.undo: undo a tag operation on the examples it logged, chunk by chunk; the last marks it undone."""
    operation_id = run.input.operation_id
    assert operation_id is not None

    async def chunk(conn: Connection, span: int) -> Step:
        return await runs.undo_chunk(conn, run.input.run_id, operation_id, span)

    return await _walk(run, chunk, "restored the tags of")


async def archive(run: Bulk) -> BulkResult:
    """curation.archive: archive (or restore) the examples matching the run's filter, chunk by chunk."""
    found = await runs.get_run(run.pool, run.input.run_id)
    if found is None:
        raise JobFailed(f"curation run {run.input.run_id} no longer exists")
    archived = found.action is Action.ARCHIVE
    where = compile_filter(found.filter, archived_default=not archived)

    async def chunk(conn: Connection, span: int) -> Step:
        return await runs.archive_chunk(conn, run.input.run_id, where, archived, span)

    return await _walk(run, chunk, "archived" if archived else "restored")


async def _walk(run: Bulk, chunk: Callable[[Connection, int], Awaitable[Step]], verb: str) -> BulkResult:
    """Run chunks until the walk is done; progress is the share of the ids walked (cheap, and exact at the end)."""
    await runs.attach_job(run.pool, run.input.run_id, run.id)
    span = run.settings.bulk_job_chunk_ids
    while True:
        await run.check_cancelled()  # between chunks only: a chunk is one transaction, all or nothing
        step = await transact(run.pool, lambda conn: chunk(conn, span))
        done = step.run
        result = run.result = BulkResult(
            action=run.input.action, operation_id=run.input.operation_id, affected_count=done.changed,
            chunks=done.chunks, complete=done.finished,
        )  # fmt: skip
        if step.stopped is not None:
            raise JobFailed(step.stopped)
        if done.finished:
            return result
        await run.progress(
            done.progress, f"{verb} {done.changed:,} examples so far ({done.progress:.0%} of the ids walked)"
        )
