"""JobRun: what a job's work sees of one attempt (typed input, checkpoint, throttled progress, stop points).

See the Jobs section of README.md for how a job kind uses it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Generic

import asyncpg

from tuneyard.core import outages
from tuneyard.core.config import Settings
from tuneyard.core.errors import TuneyardError, UnavailableError
from tuneyard.jobs import repository as repo
from tuneyard.jobs.models import InputT, Job, JobModel, JobStatus, JobType, ResultT
from tuneyard.jobs.progress import announce

log = logging.getLogger(__name__)

# check_cancelled() asks the database at most this often; between asks it trusts what it last heard.
CHECK_INTERVAL = 0.2
MAX_DEFER_SECONDS = 86_400.0  # Redis delayed messages must be due within 7 days; a day is plenty between polls


class JobCancelled(Exception):
    """Raised by check_cancelled() once the job is CANCELLING: clean up (cancel the provider's job), then re-raise."""


class JobLost(Exception):
    """This claim no longer holds the job (the reaper gave it to another attempt): stop without writing."""


class WorkerStopping(Exception):
    """The worker is shutting down: the job goes back to the queue, keeping its checkpoint, without an attempt."""


class JobFailed(TuneyardError):
    """An expected failure of a job's work; its message becomes the job's error."""

    code = "JOB_FAILED"


class ContinueLater(Exception):
    """Raised by work to run again in `seconds` (a delayed message; no thread waits), the job RUNNING meanwhile."""

    def __init__(self, seconds: float, message: str | None = None) -> None:
        if not 0 < seconds <= MAX_DEFER_SECONDS:
            raise ValueError(f"a run can be continued 0 to {MAX_DEFER_SECONDS:g} s later, not {seconds}")
        super().__init__(message)
        self.seconds = seconds
        self.message = message or f"waiting {seconds:g} s"


@dataclass(frozen=True)
class RunEnv:
    """What a run needs from the process it runs in."""

    pool: asyncpg.Pool
    settings: Settings
    stopping: Callable[[], bool] = lambda: False
    # Send the job's message again after a delay in seconds (a released or deferred job).
    send: Callable[[Job, float], Awaitable[None]] | None = None


class JobRun(Generic[InputT, ResultT]):
    """One attempt at a job: its input, checkpoint, progress, stop points, and its (partial) result."""

    input: InputT

    def __init__(self, job: Job, job_type: JobType[InputT, ResultT], env: RunEnv) -> None:
        self.job = job
        self.type = job_type
        self.id = job.id
        self.attempt = job.attempts
        self.pool = env.pool
        self.settings = env.settings
        # What an earlier run saved with save_checkpoint (JSON), or None: resume from it instead of starting over.
        self.checkpoint: Any = job.checkpoint
        self._result: ResultT | None = None
        self._result_changed = False
        self._env = env
        self._status = job.status
        self._lost = False
        self._pinned = 0
        self._checked = time.monotonic()
        self._last_flush = 0.0
        self._pending: tuple[float, str | None] | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._write = asyncio.Lock()
        self._heart: asyncio.Task[None] | None = None

    @property
    def result(self) -> ResultT | None:
        """The partial result, kept if the job ends without returning and across deferrals; None at first."""
        return self._result

    @result.setter
    def result(self, value: ResultT | None) -> None:
        self._result, self._result_changed = value, True

    async def progress(self, fraction: float, message: str | None = None) -> None:
        """Report progress in [0, 1]; at most one event per progress interval, the latest always sent."""
        if not (0.0 <= fraction <= 1.0) or math.isnan(fraction):
            raise ValueError(f"progress must be within [0, 1], got {fraction}")
        self._pending = (fraction, message)
        if self._flusher is not None:
            return  # a flush is already due; it will send this latest value
        wait = self._last_flush + self.settings.job_progress_interval - time.monotonic()
        if wait <= 0:
            await self._flush()
        else:
            self._flusher = asyncio.create_task(self._flush_after(wait))

    async def check_cancelled(self) -> None:
        """A stop point: JobCancelled after cancelJob, WorkerStopping (outside not_resumable()), or JobLost."""
        self._raise_if_lost()
        if time.monotonic() - self._checked >= CHECK_INTERVAL:
            await self._beat_once()
            self._raise_if_lost()
        if self._status is JobStatus.CANCELLING:
            raise JobCancelled  # before WorkerStopping: the work's clean-up (the provider's job) must run
        if self._pinned == 0 and self._env.stopping():
            raise WorkerStopping

    async def save_checkpoint(self, checkpoint: JobModel | Mapping[str, Any]) -> None:
        """Commit what a retry resumes from (small JSON), at once and in its own statement; JobLost if too late."""
        data = checkpoint.to_json() if isinstance(checkpoint, JobModel) else dict(checkpoint)
        async with self._write:
            if self._lost or not await repo.save_checkpoint(self.pool, self.id, self.attempt, data):
                self._lost = True
                self._raise_if_lost()
        self.checkpoint = data
        self._checked = time.monotonic()

    @contextlib.contextmanager
    def not_resumable(self) -> Iterator[None]:
        """A part that cannot be handed back: a stopping worker lets it finish (within its grace period)."""
        self._pinned += 1
        try:
            yield
        finally:
            self._pinned -= 1

    def _raise_if_lost(self) -> None:
        if self._lost:
            raise JobLost(f"job {self.id} attempt {self.attempt} was taken over")

    def _partial(self) -> Any:
        """The partial result as JSON, for a run that ends without returning."""
        return None if self._result is None else self._result.to_json()

    def _changed_result(self) -> Any:
        """The partial result as JSON if it changed since last written, else None (keep what is stored)."""
        if not self._result_changed or self._result is None:
            return None
        self._result_changed = False
        return self._result.to_json()

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
            job = await repo.set_progress(self.pool, self.id, self.attempt, *pending, self._changed_result())
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
            await asyncio.sleep(self.settings.job_heartbeat_seconds)
            try:
                await self._beat_once()
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, UnavailableError) as error:
                if outages.unavailable(error) is None:  # an outage is logged once, by tuneyard.core.outages
                    log.warning("job %s: heartbeat failed: %s", self.id, error)

    async def _run(self, work: Callable[[JobRun[InputT, ResultT]], Awaitable[ResultT]]) -> Any:
        """Run the work beside a heartbeat; its result as JSON."""
        self._heart = asyncio.create_task(self._beat())
        try:
            self.input = self.type.input.model_validate(self.job.input)
            if self.job.result is not None:  # what an earlier run of this job had found
                self._result = self.type.result.model_validate(self.job.result)
            return self.type.result.model_validate(await work(self)).to_json()
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
            if self._env.send is not None:
                await self._env.send(job, 0.0)

    async def _defer(self, later: ContinueLater) -> None:
        progress = None if self._pending is None else self._pending[0]
        async with self._write:
            job = await repo.defer(
                self.pool, self.id, self.attempt, later.seconds, later.message, progress, self._changed_result()
            )
        if job is None:
            log.info("job %s attempt %s: lost the job before it could wait", self.id, self.attempt)
            return
        await announce(job)
        if self._env.send is not None:
            await self._env.send(job, 0.0 if job.status is JobStatus.CANCELLING else later.seconds)
