"""Maintenance jobs over the examples: check their invariants in chunks, repair their tags, report bad content."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg

from tuneyard.core.errors import ValidationError
from tuneyard.examples.service import stored_problem
from tuneyard.jobs.models import Job, JobKind, JobModel, JobType
from tuneyard.jobs.service import JobRun, create_and_enqueue
from tuneyard.maintenance import repository as repo

MAX_CHUNK = 10_000
MAX_PAUSE_MS = 60_000
MAX_PROBLEMS = 100  # content problems listed in the report; all are counted


class CheckInput(JobModel):
    repair: bool
    chunk_size: int
    pause_ms: int


class CheckReport(JobModel):
    """What the check found so far; `complete` once every example was examined."""

    examined: int = 0
    tags_not_normalized: int = 0  # unsorted, duplicated or blank tags
    blank_tags: int = 0
    overlong_tags: int = 0
    repaired: int = 0
    # Stored content that breaks a rule new examples are held to (JSON too deep, not an object where one is
    # expected, an integer outside +-2^53, createdAt outside 1900-9999): counted, the first ones listed, never
    # repaired (only the orchestrator knows what was meant). PostgreSQL cannot store NUL, so none can be found.
    content_problems: int = 0
    problems: list[dict[str, Any]] = []  # {exampleId, executionId, field, message}
    complete: bool = False


CHECK_JOB = JobType(
    JobKind.MAINTENANCE, actor="examples.check", queue="maintenance", input=CheckInput, result=CheckReport
)


async def start_check(pool: asyncpg.Pool, repair: bool, chunk_size: int, pause_ms: int, created_by: str) -> Job:
    """Start a MAINTENANCE job that checks every example's tags (a sorted set of non-blank labels)."""
    if not 1 <= chunk_size <= MAX_CHUNK:
        raise ValidationError(f"chunkSize: must be between 1 and {MAX_CHUNK}, got {chunk_size}")
    if not 0 <= pause_ms <= MAX_PAUSE_MS:
        raise ValidationError(f"pauseMs: must be between 0 and {MAX_PAUSE_MS}, got {pause_ms}")
    job_input = CheckInput(repair=repair, chunk_size=chunk_size, pause_ms=pause_ms)
    return await create_and_enqueue(pool, CHECK_JOB, job_input, created_by=created_by)


async def check_examples(run: JobRun[CheckInput, CheckReport]) -> CheckReport:
    """Walk the examples in id order, chunk by chunk; each chunk (and its repairs) is one statement.

    A retried run starts over: chunks are idempotent, and the walk is short next to a job's lifetime.
    """
    options = run.input
    total = await repo.count_examples(run.pool)
    report = run.result = CheckReport()
    after = 0
    while True:
        await run.check_cancelled()
        chunk = await repo.check_chunk(run.pool, after, options.chunk_size, options.repair)
        if chunk.last_id is None:
            break
        found = content_problems(await repo.stored_content(run.pool, after, chunk.last_id))
        after = chunk.last_id
        report = run.result = CheckReport(
            examined=report.examined + chunk.examined,
            tags_not_normalized=report.tags_not_normalized + chunk.tags_not_normalized,
            blank_tags=report.blank_tags + chunk.blank_tags,
            overlong_tags=report.overlong_tags + chunk.overlong_tags,
            repaired=report.repaired + chunk.repaired,
            content_problems=report.content_problems + len(found),
            problems=(report.problems + found)[:MAX_PROBLEMS],
        )
        done = report.examined
        await run.progress(min(done / total, 1.0) if total else 1.0, f"checked {done} of {total} examples")
        if options.pause_ms:
            await asyncio.sleep(options.pause_ms / 1000)
    return report.model_copy(update={"complete": True})


def content_problems(examples: list[repo.StoredContent]) -> list[dict[str, Any]]:
    """Each field of these stored examples that breaks a rule new examples are held to."""
    found = []
    for example in examples:
        problems = [(name, stored_problem(name, text)) for name, text in example.json.items() if text is not None]
        if example.created_at_outside is not None:
            problems.append(("createdAt", f"{example.created_at_outside} is outside 1900-01-01 to 9999-12-31 (UTC)"))
        found += [
            {"exampleId": str(example.id), "executionId": example.execution_id, "field": name, "message": message}
            for name, message in problems
            if message is not None
        ]
    return found
