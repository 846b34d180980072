"""The bundled servers of one TUNEYARD_HOME, started together, supervised by `serve`, stopped together."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from tuneyard.embedded.home import make_private
from tuneyard.embedded.postgres import EmbeddedPostgres
from tuneyard.embedded.redis import EmbeddedRedis

log = logging.getLogger("tuneyard.embedded")

CHECK_SECONDS = 1.0


class Bundled(Protocol):
    """A bundled server as the supervisor sees it."""

    @property
    def pid(self) -> int | None: ...

    def restart(self) -> None: ...


@dataclass
class Supervisor:
    """A thread that restarts a bundled server found dead (one log line each time), until stopped.

    The clients reconnect by themselves (tuneyard.core.outages), so a restart is all a crash needs.
    """

    servers: dict[str, Bundled]

    def __post_init__(self) -> None:
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="bundled-servers", daemon=True)
        self._failing: set[str] = set()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop watching (before the servers are stopped, so that a stopping one is not restarted)."""
        self._stopping.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._stopping.wait(CHECK_SECONDS):
            for name, server in self.servers.items():
                if server.pid is None and not self._stopping.is_set():
                    self._restart(name, server)

    def _restart(self, name: str, server: Bundled) -> None:
        try:
            server.restart()
        except Exception as error:  # whatever broke, the next check tries again; said once until it works
            if name not in self._failing:
                log.error("the bundled %s stopped, and restarting it failed (trying again): %s", name, error)
                self._failing.add(name)
            return
        self._failing.discard(name)
        log.warning("the bundled %s stopped; restarted it (pid %s)", name, server.pid)


@contextlib.contextmanager
def bundled(home: Path, *, database: bool, redis: bool, supervise: bool = False) -> Iterator[tuple[str, str]]:
    """(database URL, Redis URL) of the bundled servers asked for ("" for the others), stopped on exit."""
    with contextlib.ExitStack() as stack:
        urls = ["", ""]
        servers: dict[str, Bundled] = {}
        if database:
            postgres = EmbeddedPostgres(home / "postgres")
            postgres.start()
            stack.callback(postgres.stop)
            urls[0], servers["PostgreSQL"] = postgres.url, postgres
        if redis:
            bundled_redis = EmbeddedRedis(home / "redis")
            bundled_redis.start()
            stack.callback(bundled_redis.stop)
            urls[1], servers["Redis"] = bundled_redis.url, bundled_redis
        make_private(home)  # after the start: run as root, pgserver opens the way to its data folder for everyone
        if supervise:
            supervisor = Supervisor(servers)
            supervisor.start()
            stack.callback(supervisor.stop)
        yield urls[0], urls[1]
