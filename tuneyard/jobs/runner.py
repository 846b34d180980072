"""execute: take up a job (a claim, or the resumption of a deferred one), run its work, record how it ended."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from tuneyard.core import outages
from tuneyard.core.errors import TuneyardError
from tuneyard.jobs import repository as repo
from tuneyard.jobs.models import InputT, JobStatus, JobType, ResultT
from tuneyard.jobs.progress import announce
from tuneyard.jobs.run import ContinueLater, JobCancelled, JobLost, JobRun, RunEnv, WorkerStopping

log = logging.getLogger(__name__)

# A deferred job's delayed message may come this much before its time by the database's clock (clocks differ).
RESUME_EARLY_SECONDS = 2.0


async def execute(
    job_id: int,
    job_type: JobType[InputT, ResultT],
    work: Callable[[JobRun[InputT, ResultT]], Awaitable[ResultT]],
    env: RunEnv,
) -> None:
    """Take up the job and run `work(run)`; a job neither QUEUED nor due to resume is left alone."""
    job = await repo.claim(env.pool, job_id)
    if job is not None:
        await announce(job)
    else:
        job = await repo.resume(env.pool, job_id, RESUME_EARLY_SECONDS)
        if job is None:
            log.info("job %s: neither queued nor due (a duplicate or early message); nothing to do", job_id)
            return
    run = JobRun(job, job_type, env)
    try:
        result = await run._run(work)
    except ContinueLater as later:
        await run._defer(later)
    except JobCancelled:
        await run._finish(JobStatus.CANCELLED, "cancelled", run._partial(), None)
    except JobLost:
        log.warning("job %s: attempt %s was taken over by the reaper; stopped", job_id, run.attempt)
    except WorkerStopping:
        await run._release()
    except asyncio.CancelledError:
        await asyncio.shield(run._release())
        raise
    except outages.ERRORS as error:
        # The database or Redis went away: not the job's fault, so not FAILED. It goes back to the queue (no attempt
        # counted); while the database is still down that fails too, and the reaper retries the job once it is back.
        outages.unavailable(error)
        with contextlib.suppress(Exception):
            await run._release()
    except TuneyardError as error:
        await run._finish(JobStatus.FAILED, "failed", run._partial(), error.message)
    except Exception as error:
        log.exception("job %s (%s) failed", job_id, job.actor)
        message = f"unexpected error ({type(error).__name__}); details are in the worker's log"
        await run._finish(JobStatus.FAILED, "failed", run._partial(), message)
    else:
        await run._finish(JobStatus.SUCCEEDED, "done", result, None)
