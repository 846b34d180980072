"""One worker process: a Dramatiq worker running the job types of its queues, the job reaper, and a graceful stop.

On SIGTERM the worker takes no new job; each running job hands itself back (keeping its checkpoint, without
counting an attempt) at its next check_cancelled, and one in a not_resumable() part may end within
worker_stop_grace_seconds. A job still running then is interrupted and handed back.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import signal
import threading
from collections.abc import Awaitable, Callable, Collection
from typing import Any

import asyncpg
import dramatiq
import redis.asyncio as aioredis
from dramatiq.asyncio import get_event_loop_thread
from dramatiq.middleware import AsyncIO, Middleware

from tuneyard.core import outages
from tuneyard.core import queue as broker
from tuneyard.core.config import Settings
from tuneyard.core.db import create_pool
from tuneyard.core.errors import UnavailableError
from tuneyard.core.redis import async_client
from tuneyard.datasets.exports.parts import remove_orphaned_parts
from tuneyard.jobs import progress, registry
from tuneyard.jobs.reaper import reap_forever
from tuneyard.jobs.run import RunEnv
from tuneyard.jobs.runner import execute
from tuneyard.jobs.runtime import watch_outages
from tuneyard.jobs.service import send

log = logging.getLogger(__name__)

# Each domain's tasks module binds its job types when imported; a new job kind adds its module here.
TASK_MODULES = (
    "tuneyard.curation.tasks",
    "tuneyard.datasets.exports.tasks",
    "tuneyard.examples.imports.tasks",
    "tuneyard.finetunes.tasks",
    "tuneyard.maintenance.tasks",
    "tuneyard.registry.tasks",
)
INTERRUPT_WAIT = 5.0  # seconds for runs interrupted after the grace period to hand their jobs back


def import_task_modules(settings: Settings) -> None:
    for name in (*TASK_MODULES, *settings.worker_task_modules):
        importlib.import_module(name)


class Resources(Middleware):
    """The worker's asyncpg pool and Redis client on the event loop thread, its reaper, and running jobs."""

    def __init__(self, settings: Settings, database_url: str, redis_url: str, threads: int) -> None:
        self.settings = settings
        self.database_url = database_url
        self.redis_url = redis_url
        self.threads = threads
        self.stopping = threading.Event()
        self.pool: asyncpg.Pool | None = None
        self.redis: aioredis.Redis | None = None
        self.reaper: asyncio.Task[None] | None = None
        self.runs: set[asyncio.Task[Any]] = set()

    def before_worker_boot(self, broker: Any, worker: Any) -> None:
        # Listed after AsyncIO, so its event loop is already running; done before any message is taken.
        self._on_loop(self._open())

    def before_worker_shutdown(self, broker: Any, worker: Any) -> None:
        self.stopping.set()

    def after_worker_shutdown(self, broker: Any, worker: Any) -> None:
        # Called once the worker threads ended or the grace period is over, before the event loop stops.
        self._on_loop(self._close())

    def _on_loop(self, coroutine: Any) -> None:
        loop_thread = get_event_loop_thread()
        assert loop_thread is not None, "the AsyncIO middleware must come first"
        loop_thread.run_coroutine(coroutine)

    async def _open(self) -> None:
        self.pool = await create_pool(self.database_url, max_size=self.threads + 2)
        self.redis = async_client(self.redis_url)
        progress.configure(self.redis, self.settings.queue_namespace)
        watch_outages(self.pool, self.redis)  # a lost database or Redis: one log line, and one when it is back
        await remove_orphaned_parts(self.pool, self.settings.export_dir)
        self.reaper = asyncio.create_task(reap_forever(self.pool, self.settings))

    async def _close(self) -> None:
        if self.runs:
            log.warning("jobs still running after the grace period: %d; handing them back", len(self.runs))
            for run in self.runs:
                run.cancel()
            await asyncio.wait(self.runs, timeout=INTERRUPT_WAIT)
        if self.reaper is not None:
            self.reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.reaper
        watch_outages(None, None)
        if self.redis is not None:
            await self.redis.aclose()
        if self.pool is not None:
            await self.pool.close()

    def actor(self, task: registry.Task) -> Callable[[int], Awaitable[None]]:
        """The Dramatiq actor function of a task: its message carries only the job id."""

        async def run(job_id: int) -> None:
            await self.execute(task, job_id)

        return run

    async def execute(self, task: registry.Task, job_id: int) -> None:
        assert self.pool is not None
        if self.stopping.is_set():  # taken from the queue just as the worker began to stop: for another worker
            with contextlib.suppress(UnavailableError):  # else the reaper sends it again
                await asyncio.to_thread(broker.enqueue, task.type.actor, task.type.queue, job_id)
            return
        current = asyncio.current_task()
        assert current is not None
        self.runs.add(current)
        env = RunEnv(pool=self.pool, settings=self.settings, stopping=self.stopping.is_set, send=send)
        try:
            await execute(job_id, task.type, task.work, env)
        except asyncio.CancelledError:
            log.warning("job %s: interrupted at the end of the grace period; handed back", job_id)
        finally:
            self.runs.discard(current)


def choose_queues(queues: Collection[str] | None, exclude: Collection[str] = ()) -> list[str]:
    """The queues to consume: `queues` (None: every queue) less `exclude`; ValueError saying what is wrong."""
    known = registry.queues()
    listed = f"the queues are: {', '.join(known)}"
    options = (
        ("--queues (TUNEYARD_WORKER_QUEUES)", queues or ()),
        ("--exclude-queues (TUNEYARD_WORKER_EXCLUDE_QUEUES)", exclude),
    )
    for option, names in options:
        unknown = sorted(set(names) - set(known))
        if unknown:
            raise ValueError(f"{option}: no job kinds on queues {unknown}; {listed}")
    if queues is not None and not queues:
        raise ValueError(f"--queues: name at least one queue (or leave it out for every queue); {listed}")
    chosen = [q for q in known if (queues is None or q in queues) and q not in exclude]
    if not chosen:
        raise ValueError(f"no queue is left to take after excluding {', '.join(sorted(exclude))}; {listed}")
    return chosen


def run_worker(
    settings: Settings,
    database_url: str,
    redis_url: str,
    threads: int,
    queues: Collection[str] | None = None,
    parent_pid: int | None = None,
    exclude: Collection[str] = (),
) -> int:
    """Run the job types of `queues` (all when None) but `exclude` until SIGTERM or SIGINT (or until `parent_pid` is
    gone)."""
    import_task_modules(settings)
    try:
        chosen = choose_queues(queues, exclude)
    except ValueError as error:
        log.error("%s", error)
        return 2
    resources = Resources(settings, database_url, redis_url, threads)
    the_broker = broker.configure(settings, redis_url, middleware=[AsyncIO(), resources])
    served = registry.tasks(chosen)
    for task in served:
        broker.declare_actor(the_broker, task.type.actor, task.type.queue, resources.actor(task))
    worker = dramatiq.Worker(the_broker, worker_threads=threads, worker_timeout=settings.worker_poll_ms)
    # Take no more messages than there are threads, so that an idle worker elsewhere gets the rest.
    worker.queue_prefetch = threads
    if broker.broker_kind(settings) == "redis":
        for handler in logging.getLogger().handlers:
            handler.addFilter(outages.QueueConsumerOutages())  # a Redis outage: one line, not 2 per queue every 3 s
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):  # SIGHUP: the terminal of `serve` was closed
        signal.signal(signum, lambda *_: stop.set())
    worker.start()
    log.info(
        "worker ready: %s; %d threads; queue namespace %r on %s",
        ", ".join(f"{t.type.actor} ({t.type.queue})" for t in served), threads, settings.queue_namespace,
        broker.describe(settings),
    )  # fmt: skip
    try:
        while not stop.wait(0.5):
            if parent_pid is not None and os.getppid() != parent_pid:
                log.warning("the process that started this worker is gone; stopping")
                break
    finally:
        worker.stop(timeout=round(settings.worker_stop_grace_seconds * 1000))
        broker.close()
    return 0
