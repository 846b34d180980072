"""Worker processes on a scratch database and queue namespace of their own, started and signalled by each test.

Each test gets a fresh database: no other process's reaper (the session server's, say) touches its jobs. The
queue is Redis, unless a test module overrides the `broker_url` fixture (RabbitMQ: see rabbitmq_url()).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import asyncpg
import pika
import pytest

from tests.support import JOB_TEST_SETTINGS, service_env
from tests.support.databases import create_database, drop_database
from tests.workers.provider import PROVIDER_TABLE
from tuneyard.core import queue as broker
from tuneyard.core.config import Settings
from tuneyard.core.db import create_pool
from tuneyard.core.redis import async_client
from tuneyard.jobs import progress, registry
from tuneyard.jobs import service as jobs
from tuneyard.jobs.models import Job
from tuneyard.workers.main import import_task_modules

T = TypeVar("T")
CHECKOUT = Path(__file__).resolve().parents[2]  # workers run from here, so they can import tests.workers.provider


def rabbitmq_url() -> str:
    """TUNEYARD_TEST_RABBITMQ_URL, else the local RabbitMQ's guest account; the test skips if nothing answers there."""
    url = os.environ.get("TUNEYARD_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5672), timeout=2).close()
    except OSError as error:
        pytest.skip(f"no RabbitMQ answers at {parts.hostname}:{parts.port or 5672} ({error}); start one, or set "
                    "TUNEYARD_TEST_RABBITMQ_URL, to test the RabbitMQ broker")  # fmt: skip
    return url


def delete_rabbitmq_queues(url: str, namespace: str) -> None:
    """RabbitMQ keeps queues until they are deleted: those of this namespace go."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        import_task_modules(Settings(worker_task_modules=["tests.workers.provider"]))
        for queue in registry.queues():  # every queue a worker of these tests consumes
            for suffix in ("", ".DQ", ".XQ"):  # Dramatiq's delay and dead-letter queues
                channel.queue_delete(f"{namespace}.{queue}{suffix}")
    finally:
        connection.close()


@pytest.fixture
def broker_url() -> str | None:
    """TUNEYARD_BROKER_URL of the test's workers and of the test process: None, the Redis of the session."""
    return None


async def until(check: Callable[[], Awaitable[T | None]], within: float = 20, what: str = "") -> T:
    """The first truthy value of check(), polled every 50 ms for up to `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        found = await check()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what or check}"
        await asyncio.sleep(0.05)


@dataclass
class Yard:
    """One test's database (with the provider's table), namespace, worker environment, and a pool."""

    env: dict[str, str]
    pool: asyncpg.Pool
    home: Path

    async def job(self, job_id: int) -> Job:
        found = await jobs.get(self.pool, job_id)
        assert found is not None
        return found

    async def final(self, job_id: int, within: float = 30) -> Job:
        async def ended() -> Job | None:
            job = await self.job(job_id)
            return job if job.status.final else None

        return await until(ended, within, f"job {job_id} to end")

    async def provider_jobs(self, job_id: int) -> list[asyncpg.Record]:
        return await self.pool.fetch("SELECT * FROM provider_jobs WHERE job_id = $1 ORDER BY id", job_id)


@pytest.fixture
async def yard(backing: tuple[str, str], broker_url: str | None, tmp_path: Path) -> AsyncIterator[Yard]:
    url = await create_database(backing[0])
    namespace = f"tuneyard-w-{uuid.uuid4().hex[:12]}"
    the_broker = broker.configure(Settings(queue_namespace=namespace, broker_url=broker_url), backing[1])
    client = async_client(backing[1])
    progress.configure(client, namespace)
    pool = await create_pool(url, max_size=4)
    await pool.execute(PROVIDER_TABLE)
    env = service_env(
        url, backing[1], **JOB_TEST_SETTINGS, TUNEYARD_HOME=str(tmp_path / "home"),
        TUNEYARD_QUEUE_NAMESPACE=namespace, TUNEYARD_WORKER_TASK_MODULES='["tests.workers.provider"]',
        **({"TUNEYARD_BROKER_URL": broker_url} if broker_url else {}),
    )  # fmt: skip
    try:
        yield Yard(env, pool, tmp_path / "home")
    finally:
        await pool.close()
        the_broker.flush_all()
        broker.close()
        if broker_url:
            delete_rabbitmq_queues(broker_url, namespace)
        await client.aclose()
        await drop_database(backing[0], url)


@dataclass
class Worker:
    """A `tuneyard worker` process; its log (stdout and stderr) goes to a file."""

    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self.log.read_text()

    def wait_ready(self, timeout: float = 60) -> Worker:
        """Wait for its "worker ready" line (a start-up on a loaded 2-core machine can take 20 s)."""
        deadline = time.monotonic() + timeout
        while "worker ready" not in self.output():
            assert self.process.poll() is None, f"the worker exited: {self.output()}"
            assert time.monotonic() < deadline, f"the worker did not start: {self.output()}"
            time.sleep(0.05)
        return self

    def signal(self, signum: signal.Signals) -> float:
        """Send the signal; when it was sent (time.monotonic)."""
        self.process.send_signal(signum)
        return time.monotonic()

    def exited_after(self, since: float, timeout: float = 60) -> float:
        """Seconds from `since` until the process exited (waited for here)."""
        self.process.wait(timeout)
        return time.monotonic() - since


def worker_processes(env: dict[str, str], tmp_path: Path) -> Iterator[Callable[..., Worker]]:
    """start(*options, **env): a `tuneyard worker` with those options (and variables over `env`), its output in a log
    under tmp_path; all of them are killed once the generator is closed."""
    started: list[Worker] = []

    def start(*options: str, **extra: Any) -> Worker:
        log = tmp_path / f"worker-{len(started)}.log"
        with open(log, "wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "tuneyard.cli", "worker", *options], env={**env, **extra}, cwd=CHECKOUT,
                stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        started.append(Worker(process, log))
        return started[-1]

    yield start
    for worker in started:
        if worker.process.poll() is None:
            worker.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            worker.process.wait(10)


@pytest.fixture
def workers(yard: Yard, tmp_path: Path) -> Iterator[Callable[..., Worker]]:
    """start(*options, **env): a ready `tuneyard worker` with those options; all are killed after the test."""
    yield from worker_processes(yard.env, tmp_path)
