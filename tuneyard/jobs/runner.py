"""Running one claimed job: JobRun (what a job's work sees) and execute (claim, run, finish).

See the docstring of tuneyard.jobs.service for how a job kind uses these.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg

from tuneyard.core.errors import TuneyardError
from tuneyard.jobs import repository as repo
from tuneyard.jobs.models import Job, JobStatus
from tuneyard.jobs.progress import announce

log = logging.getLogger(__name__)

# checkpoint() asks the database at most this often; between asks it trusts what it last heard.
CHECK_INTERVAL = 0.2


class JobCancelled(Exception):
    """Raised by checkpoint() once the job is CANCELLING: clean up what the work started, then let it propagate."""


class JobLost(Exception):
    """This claim no longer holds the job (the reaper gave it to another attempt): stop without writing."""


class WorkerStopping(Exception):
    """The worker process is shutting down: the job goes back to the queue for another worker."""


class JobFailed(TuneyardError):
    """An expected failure of a job's work; its message becomes the job's error."""

    code = "JOB_FAILED"


@dataclass(frozen=True)
class RunEnv:
    """What execute() needs from the process it runs in."""

    pool: asyncpg.Pool
    heartbeat_seconds: float
    progress_interval: float
    stopping: Callable[[], bool] = lambda: False
    resend: Callable[[Job], Awaitable[None]] | None = None  # re-enqueue a released job


class JobRun:
    """One attempt at a job: its input, throttled progress, cancellation checkpoints, and its result."""

    def __init__(self, job: Job, env: RunEnv) -> None:
        self.job = job
        self.id = job.id
        self.input: Any = job.input
        self.attempt = job.attempts
        self.pool = env.pool
        # What the job reports if it ends without returning (cancelled or failed): set it as work proceeds.
        self.result: Any = None
        self._env = env
        self._status = job.status
        self._lost = False
        self._checked = time.monotonic()
        self._last_flush = 0.0
        self._pending: tuple[float, str | None] | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._write = asyncio.Lock()
        self._heart: asyncio.Task[None] | None = None

    async def progress(self, fraction: float, message: str | None = None) -> None:
        """Report progress in [0, 1]; at most one event per progress interval, the latest always sent."""
        if not (0.0 <= fraction <= 1.0) or math.isnan(fraction):
            raise ValueError(f"progress must be within [0, 1], got {fraction}")
        self._pending = (fraction, message)
        if self._flusher is not None:
            return  # a flush is already due; it will send this latest value
        wait = self._last_flush + self._env.progress_interval - time.monotonic()
        if wait <= 0:
            await self._flush()
        else:
            self._flusher = asyncio.create_task(self._flush_after(wait))

    async def checkpoint(self) -> None:
        """Raise JobCancelled if the job is being cancelled (WorkerStopping, JobLost in rarer cases)."""
        if self._lost:
            raise JobLost(f"job {self.id} attempt {self.attempt} was taken over")
        if self._env.stopping():
            raise WorkerStopping
        if time.monotonic() - self._checked >= CHECK_INTERVAL:
            await self._beat_once()
        if self._lost:
            raise JobLost(f"job {self.id} attempt {self.attempt} was taken over")
        if self._status is JobStatus.CANCELLING:
            raise JobCancelled

    async def _flush_after(self, wait: float) -> None:
        await asyncio.sleep(wait)
        self._flusher = None
        await self._flush()

    async def _flush(self) -> None:
        async with self._write:
            pending, self._pending = self._pending, None
            if pending is None or self._lost:
                return
            self._last_flush = time.monotonic()
            job = await repo.set_progress(self.pool, self.id, self.attempt, pending[0], pending[1])
            if job is None:
                self._lost = True
                return
            self._status, self._checked = job.status, time.monotonic()
        await announce(job)

    async def _beat_once(self) -> None:
        status = await repo.heartbeat(self.pool, self.id, self.attempt)
        self._checked = time.monotonic()
        if status is None:
            self._lost = True
        else:
            self._status = status

    async def _beat(self) -> None:
        while not self._lost:
            await asyncio.sleep(self._env.heartbeat_seconds)
            try:
                await self._beat_once()
            except (asyncpg.PostgresError, OSError) as error:
                log.warning("job %s: heartbeat failed: %s", self.id, error)

    async def _run(self, work: Callable[[JobRun], Awaitable[Any]]) -> Any:
        self._heart = asyncio.create_task(self._beat())
        try:
            return await work(self)
        finally:
            for task in (self._heart, self._flusher):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task

    async def _finish(self, status: JobStatus, message: str, result: Any, error: str | None) -> None:
        async with self._write:
            job = await repo.finish(self.pool, self.id, self.attempt, status, message, result, error)
        if job is None:
            log.info("job %s attempt %s: lost the job before it could end %s", self.id, self.attempt, status.value)
        else:
            await announce(job)

    async def _release(self) -> None:
        job = await repo.release(self.pool, self.id, self.attempt)
        if job is not None:
            await announce(job)
            if job.status is JobStatus.QUEUED and self._env.resend is not None:
                await self._env.resend(job)


async def execute(job_id: int, work: Callable[[JobRun], Awaitable[Any]], env: RunEnv) -> None:
    """Claim the job, run `work(run)` and record how it ended; a job that is not QUEUED is left alone."""
    job = await repo.claim(env.pool, job_id)
    if job is None:
        log.info("job %s: not QUEUED (a duplicate or late message); nothing to do", job_id)
        return
    await announce(job)
    run = JobRun(job, env)
    try:
        returned = await run._run(work)
    except JobCancelled:
        await run._finish(JobStatus.CANCELLED, "cancelled", run.result, None)
    except JobLost:
        log.warning("job %s: attempt %s was taken over by the reaper; stopped", job_id, run.attempt)
    except WorkerStopping:
        await run._release()
    except asyncio.CancelledError:
        await asyncio.shield(run._release())
        raise
    except TuneyardError as error:
        await run._finish(JobStatus.FAILED, "failed", run.result, error.message)
    except Exception as error:
        log.exception("job %s (%s) failed", job_id, job.actor)
        message = f"unexpected error ({type(error).__name__}); details are in the worker's log"
        await run._finish(JobStatus.FAILED, "failed", run.result, message)
    else:
        await run._finish(JobStatus.SUCCEEDED, "done", run.result if returned is None else returned, None)
