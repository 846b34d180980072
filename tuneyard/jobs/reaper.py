"""The job reaper, run by every worker and server: jobs whose worker died, and messages that were lost."""

from __future__ import annotations

import asyncio
import logging

import asyncpg

from tuneyard.core import outages
from tuneyard.core.config import Settings
from tuneyard.core.errors import UnavailableError
from tuneyard.jobs import repository as repo
from tuneyard.jobs.models import Job, JobStatus
from tuneyard.jobs.progress import announce
from tuneyard.jobs.service import send

log = logging.getLogger(__name__)


async def recover(pool: asyncpg.Pool, settings: Settings) -> list[Job]:
    """One pass: retry or fail jobs whose worker stopped beating, re-send lost messages; the jobs it moved."""
    # Safe from any number of workers and servers at once (rows are taken with SKIP LOCKED). A deferred job is
    # never stale (no worker holds it): like a QUEUED one, its message is re-sent once it is overdue.
    moved = await repo.reap(pool, settings.job_stale_seconds, settings.job_max_attempts)
    for job in moved:
        log.warning("job %s: %s", job.id, job.error if job.status is JobStatus.FAILED else job.message)
        await announce(job)
    late = await repo.unclaimed(pool, settings.job_requeue_seconds)
    late += await repo.overdue(pool, settings.job_requeue_seconds)
    for job in [*(j for j in moved if j.status is JobStatus.QUEUED or j.resume_at is not None), *late]:
        await send(job)
    return moved


async def reap_forever(pool: asyncpg.Pool, settings: Settings) -> None:
    """Recover every job_reap_seconds until cancelled; a failed pass is logged and tried again."""
    while True:
        try:
            await recover(pool, settings)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, UnavailableError) as error:
            if outages.unavailable(error) is None:  # an outage is logged once, by tuneyard.core.outages
                log.warning("job reaper: %s", error)
        await asyncio.sleep(settings.job_reap_seconds)
