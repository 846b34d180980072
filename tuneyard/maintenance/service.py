"""Maintenance jobs over the examples: check (and optionally repair) their invariants in chunks."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg

from tuneyard.core.errors import ValidationError
from tuneyard.jobs.models import Job, JobKind
from tuneyard.jobs.service import JobRun, create_and_enqueue
from tuneyard.maintenance import repository as repo

CHECK_ACTOR = "examples.check"
MAX_CHUNK = 10_000
MAX_PAUSE_MS = 60_000


def _check_input(repair: bool, chunk_size: int, pause_ms: int) -> dict[str, Any]:
    if not 1 <= chunk_size <= MAX_CHUNK:
        raise ValidationError(f"chunkSize: must be between 1 and {MAX_CHUNK}, got {chunk_size}")
    if not 0 <= pause_ms <= MAX_PAUSE_MS:
        raise ValidationError(f"pauseMs: must be between 0 and {MAX_PAUSE_MS}, got {pause_ms}")
    return {"repair": repair, "chunkSize": chunk_size, "pauseMs": pause_ms}


async def start_check(pool: asyncpg.Pool, repair: bool, chunk_size: int, pause_ms: int, created_by: str) -> Job:
    """Start a MAINTENANCE job that checks every example's tags (a sorted set of non-blank labels)."""
    job_input = _check_input(repair, chunk_size, pause_ms)
    return await create_and_enqueue(pool, JobKind.MAINTENANCE, job_input, actor=CHECK_ACTOR, created_by=created_by)


async def check_examples(run: JobRun) -> dict[str, Any]:
    """Walk the examples in id order, chunk by chunk; each chunk (and its repairs) is one statement."""
    options = _check_input(run.input["repair"], run.input["chunkSize"], run.input["pauseMs"])
    total = await repo.count_examples(run.pool)
    report = {"examined": 0, "tagsNotNormalized": 0, "blankTags": 0, "overlongTags": 0, "repaired": 0}
    run.result = {**report, "complete": False}
    after = 0
    while True:
        await run.checkpoint()
        chunk = await repo.check_chunk(run.pool, after, options["chunkSize"], options["repair"])
        if chunk.last_id is None:
            break
        after = chunk.last_id
        report["examined"] += chunk.examined
        report["tagsNotNormalized"] += chunk.tags_not_normalized
        report["blankTags"] += chunk.blank_tags
        report["overlongTags"] += chunk.overlong_tags
        report["repaired"] += chunk.repaired
        run.result = {**report, "complete": False}
        done = report["examined"]
        await run.progress(min(done / total, 1.0) if total else 1.0, f"checked {done} of {total} examples")
        if options["pauseMs"]:
            await asyncio.sleep(options["pauseMs"] / 1000)
    return {**report, "complete": True}
