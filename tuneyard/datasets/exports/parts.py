"""Temporary export files (`.part`), named after their job, so that a dead run's are found and removed.

A run removes its own files when it fails or is cancelled; a run that never got to (its worker was killed)
leaves them behind. The job's next attempt removes them before it starts, and every worker removes at start
those whose job is not running (and nameless ones untouched for ORPHAN_AGE_SECONDS, from unattended exports).
With object storage a temporary file stays until its upload is recorded, so that a retry on the same host also
finds (by the tag in its name) an upload that completed but was never recorded.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from pathlib import Path

import asyncpg

from tuneyard.jobs import service as jobs
from tuneyard.jobs.models import JobStatus

log = logging.getLogger(__name__)

SUFFIX = ".part"
ORPHAN_AGE_SECONDS = 3600.0
_OF_JOB = re.compile(r"^\.job-(\d+)-[0-9a-f]+\.part$")


def part_name(job_id: str | None, tag: str) -> str:
    """The hidden temporary name of an output file (never served: downloads name recorded files only)."""
    return f".{tag}{SUFFIX}" if job_id is None else f".job-{job_id}-{tag}{SUFFIX}"


def _remove(paths: list[Path]) -> int:
    for path in paths:
        path.unlink(missing_ok=True)
    return len(paths)


async def remove_parts_of(export_dir: Path, job_id: str) -> list[str]:
    """Before a job's run writes: the files its earlier attempts left behind; the tags of those removed (the
    complete file of a tag is named after it: the caller removes it too, if it was stored but not recorded)."""
    found = await asyncio.to_thread(lambda: list(export_dir.glob(f".job-{job_id}-*{SUFFIX}")))
    if found:
        await asyncio.to_thread(_remove, found)
        log.info("job %s: removed %d temporary export files of an earlier attempt", job_id, len(found))
    return [path.name.removeprefix(f".job-{job_id}-").removesuffix(SUFFIX) for path in found]


async def remove_orphaned_parts(pool: asyncpg.Pool, export_dir: Path) -> int:
    """At a worker's start: temporary files whose job is not running (nameless ones only once old); how many."""
    parts = await asyncio.to_thread(lambda: list(export_dir.glob(f".*{SUFFIX}")) if export_dir.is_dir() else [])
    orphans = []
    for path in parts:  # listed before the jobs are read: a run that starts meanwhile writes files not listed here
        match = _OF_JOB.match(path.name)
        if match is None:
            if await asyncio.to_thread(_untouched_since, path, time.time() - ORPHAN_AGE_SECONDS):
                orphans.append(path)
            continue
        job = await jobs.get(pool, match.group(1))
        if job is None or job.status not in (JobStatus.RUNNING, JobStatus.CANCELLING):
            orphans.append(path)
    removed = await asyncio.to_thread(_remove, orphans)
    if removed:
        log.info("removed %d temporary export files left by runs that ended without cleaning up", removed)
    return removed


def _untouched_since(path: Path, moment: float) -> bool:
    try:
        return path.stat().st_mtime < moment
    except FileNotFoundError:
        return False
