"""One worker process: a Dramatiq worker running the job actors, the job reaper, and a clean stop."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import signal
import threading
from typing import Any

import asyncpg
import dramatiq
import redis.asyncio as aioredis
from dramatiq.asyncio import get_event_loop_thread
from dramatiq.middleware import AsyncIO, Middleware

from tuneyard.core import queue as broker
from tuneyard.core.config import Settings
from tuneyard.core.db import create_pool
from tuneyard.core.errors import UnavailableError
from tuneyard.core.redis import async_client
from tuneyard.jobs import progress
from tuneyard.jobs import service as jobs
from tuneyard.jobs.models import Job

log = logging.getLogger(__name__)

STOP_GRACE_MS = 10_000  # running jobs get this long to reach a checkpoint and hand themselves back


# Each domain's tasks module registers its job actors when imported; a new job kind adds its module here.
TASK_MODULES = ("tuneyard.datasets.exports.tasks", "tuneyard.maintenance.tasks")


def import_task_modules() -> None:
    for name in TASK_MODULES:
        importlib.import_module(name)


class Resources(Middleware):
    """The worker's asyncpg pool and Redis client on the event loop thread, its reaper, and `execute`."""

    def __init__(self, settings: Settings, database_url: str, redis_url: str, threads: int) -> None:
        self.settings = settings
        self.database_url = database_url
        self.redis_url = redis_url
        self.threads = threads
        self.stopping = threading.Event()
        self.pool: asyncpg.Pool | None = None
        self.redis: aioredis.Redis | None = None
        self.reaper: asyncio.Task[None] | None = None

    def before_worker_boot(self, broker: Any, worker: Any) -> None:
        # Listed after AsyncIO, so its event loop is already running; done before any message is taken.
        self._on_loop(self._open())

    def before_worker_shutdown(self, broker: Any, worker: Any) -> None:
        self.stopping.set()

    def after_worker_shutdown(self, broker: Any, worker: Any) -> None:
        self._on_loop(self._close())

    def _on_loop(self, coroutine: Any) -> None:
        loop_thread = get_event_loop_thread()
        assert loop_thread is not None, "the AsyncIO middleware must come first"
        loop_thread.run_coroutine(coroutine)

    async def _open(self) -> None:
        self.pool = await create_pool(self.database_url, max_size=self.threads + 2)
        self.redis = async_client(self.redis_url)
        progress.configure(self.redis, self.settings.queue_namespace)
        self.reaper = asyncio.create_task(self._reap_forever())

    async def _close(self) -> None:
        if self.reaper is not None:
            self.reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.reaper
        if self.redis is not None:
            await self.redis.aclose()
        if self.pool is not None:
            await self.pool.close()

    async def _reap_forever(self) -> None:
        assert self.pool is not None
        s = self.settings
        while True:
            try:
                await jobs.recover(self.pool, s.job_stale_seconds, s.job_max_attempts, s.job_requeue_seconds)
            except (asyncpg.PostgresError, OSError) as error:
                log.warning("job reaper: %s", error)
            await asyncio.sleep(s.job_reap_seconds)

    async def _resend(self, job: Job) -> None:
        with contextlib.suppress(UnavailableError):  # the reaper sends it later
            await asyncio.to_thread(broker.enqueue, job.actor, job.id)

    async def execute(self, job_id: int, work: broker.Work) -> None:
        assert self.pool is not None
        env = jobs.RunEnv(
            pool=self.pool,
            heartbeat_seconds=self.settings.job_heartbeat_seconds,
            progress_interval=self.settings.job_progress_interval,
            stopping=self.stopping.is_set,
            resend=self._resend,
        )
        await jobs.execute(job_id, work, env)


def run_worker(settings: Settings, database_url: str, redis_url: str, threads: int, parent_pid: int | None) -> int:
    """Run until SIGTERM or SIGINT (or until `parent_pid` is gone); running jobs go back to the queue."""
    resources = Resources(settings, database_url, redis_url, threads)
    the_broker = broker.configure(settings, redis_url, middleware=[AsyncIO(), resources])
    import_task_modules()
    names = broker.declare_actors(the_broker, resources.execute)
    worker = dramatiq.Worker(the_broker, worker_threads=threads, worker_timeout=settings.worker_poll_ms)
    # Take no more messages than there are threads, so that an idle worker elsewhere gets the rest.
    worker.queue_prefetch = threads
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    worker.start()
    log.info("worker ready: %s; %d threads; queue namespace %r", ", ".join(names), threads, settings.queue_namespace)
    try:
        while not stop.wait(0.5):
            if parent_pid is not None and os.getppid() != parent_pid:
                log.warning("the process that started this worker is gone; stopping")
                break
    finally:
        worker.stop(timeout=STOP_GRACE_MS)
        broker.close()
    return 0
