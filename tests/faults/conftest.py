"""Faults over real processes: a PostgreSQL and a Redis of the test's own, which it kills and starts again under
a running `tuneyard serve`, and a server whose log the test reads."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
import pytest

from tests.support import JOB_TEST_SETTINGS, free_port, service_env, tuneyard
from tuneyard.embedded import EmbeddedPostgres, EmbeddedRedis


def wait_for(check: Callable[[], object], what: str, timeout: float = 30.0) -> object:
    """Poll `check` until it returns something true; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def kill(pid: int | None, what: str) -> None:
    assert pid is not None, f"{what} is not running"
    os.kill(pid, signal.SIGKILL)


@dataclass
class LoggedServer:
    """`tuneyard serve` in a child process (no worker unless asked), its output in a file the test reads."""

    env: dict[str, str]
    log: Path
    workers: int = 0
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tuneyard.cli", "serve", "--port", str(self.port), "--workers", str(self.workers)],
                env=self.env, stdout=output, stderr=subprocess.STDOUT,
            )  # fmt: skip
        wait_for(self._answers, "the server to answer /healthz", 60)

    def _answers(self) -> bool:
        assert self.process is not None
        assert self.process.poll() is None, self.output()
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if self.running():
            assert self.process is not None
            self.process.terminate()
            self.process.wait(30)

    def token(self, role: str = "CURATOR") -> str:
        return tuneyard("token", "create", "--role", role, "--name", f"faults {role}", env=self.env).strip()


def start_worker(env: dict[str, str], log: Path, queues: str) -> subprocess.Popen[bytes]:
    """`tuneyard worker` on only these queues, its output in `log`; ready once it says so."""
    with log.open("ab") as output:
        worker = subprocess.Popen(
            [sys.executable, "-m", "tuneyard.cli", "worker", "--queues", queues],
            env=env, stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
    wait_for(lambda: worker.poll() is None and "worker ready" in log.read_text(), "the worker to start", 60)
    return worker


def workers_of(server: LoggedServer) -> list[psutil.Process]:
    """The worker processes serve runs beside the API."""
    assert server.process is not None
    found = []
    for child in psutil.Process(server.process.pid).children():
        try:
            if "worker" in child.cmdline():
                found.append(child)
        except (psutil.ZombieProcess, psutil.NoSuchProcess):
            continue  # a killed one, not reaped yet
    return found


@pytest.fixture
def postgres(tmp_path: Path) -> Iterator[EmbeddedPostgres]:
    """A PostgreSQL of this test's own (the bundled one, in a temporary folder): the test may kill it."""
    server = EmbeddedPostgres(tmp_path / "postgres")
    server.start()
    yield server
    if server.pid is None:
        server.restart()  # so that stop() finds it and lets go of it cleanly
    server.stop()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    """A Redis of this test's own (the bundled one): the test may kill it."""
    server = EmbeddedRedis(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


def server_env(database_url: str, redis_url: str, home: Path) -> dict[str, str]:
    return service_env(
        database_url, redis_url, TUNEYARD_HOME=str(home), TUNEYARD_QUEUE_NAMESPACE=f"faults-{uuid.uuid4().hex[:12]}",
        TUNEYARD_TOKEN_CACHE_SECONDS="0",  # every request asks the database: an outage shows at once
        **JOB_TEST_SETTINGS,
    )  # fmt: skip


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., LoggedServer]]:
    """Start a server on the given database and Redis URLs (and `workers` beside it); stopped after the test."""
    started: list[LoggedServer] = []

    def start(database_url: str, redis_url: str, workers: int = 0) -> LoggedServer:
        env = server_env(database_url, redis_url, tmp_path / "home")
        server = LoggedServer(env, tmp_path / "server.log", workers=workers)
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
