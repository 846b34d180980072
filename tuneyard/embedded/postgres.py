"""The bundled PostgreSQL 16 from the pgserver package, listening on a Unix socket inside the data folder.

pgserver keeps the pids of the processes using a data folder in its handle file and stops the server when the
last of them lets go. A process killed with SIGKILL never lets go, so its dead pid would keep the server running
forever: every start and stop here first drops the pids of processes that are gone.
"""

from __future__ import annotations

import json
import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from tuneyard.embedded.processes import is_alive

# pgserver falls back to /tmp for its lock file when XDG_RUNTIME_DIR is unset, and warns each time.
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")

DATABASE_NAME = "tuneyard"
HANDLE_FILE = ".handle_pids.json"  # pgserver's list of the processes using the server

log = logging.getLogger(__name__)


@dataclass
class EmbeddedPostgres:
    """PostgreSQL 16 from the pgserver package, listening on a Unix socket inside the data folder."""

    folder: Path
    url: str = ""
    admin_url: str = ""  # the `postgres` maintenance database, for creating others
    _server: object = field(default=None, repr=False)

    def start(self) -> None:
        import pgserver  # imported here: only the embedded mode needs it
        from pgserver.postgres_server import PostgresServer

        self.folder.parent.mkdir(parents=True, exist_ok=True)
        with PostgresServer._lock:
            self._forget_dead_users()
            self._clear_dead_postmaster()
        server = pgserver.get_server(self.folder, cleanup_mode="stop")
        self._server = server
        self.admin_url = server.get_uri("postgres")
        exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';")
        if "(1 row)" not in exists:
            server.psql(f"CREATE DATABASE {DATABASE_NAME};")
        self.url = self.admin_url.replace("/postgres?", f"/{DATABASE_NAME}?", 1)

    @property
    def pid(self) -> int | None:
        """The postmaster's pid while it runs (from its postmaster.pid), else None."""
        try:
            pid = int((self.folder / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None
        return pid if is_alive(pid) else None

    def restart(self) -> None:
        """Start the server again after it died (same folder, same socket, so the same URL)."""
        from pgserver.postgres_server import PostgresServer

        server = self._server
        assert isinstance(server, PostgresServer), "restart() is for a server this process started"
        with PostgresServer._lock:
            self._clear_dead_postmaster()
            server.ensure_postgres_running()

    def stop(self) -> None:
        if self._server is not None:
            from pgserver.postgres_server import PostgresServer

            with PostgresServer._lock:
                self._forget_dead_users()
            self._server.cleanup()  # type: ignore[attr-defined]
            self._server = None

    def _forget_dead_users(self) -> None:
        """Drop the pids of processes that are gone from pgserver's handle file (called under pgserver's lock)."""
        handles = self.folder / HANDLE_FILE
        try:
            pids = json.loads(handles.read_text())
        except (OSError, ValueError):
            return
        alive = [pid for pid in pids if isinstance(pid, int) and is_alive(pid)]
        if alive != pids:
            log.info("bundled PostgreSQL: forgetting processes that are gone: %s", sorted(set(pids) - set(alive)))
            handles.write_text(json.dumps(alive))

    def _clear_dead_postmaster(self) -> None:
        """Remove the lock files of a postmaster killed with SIGKILL: it may linger as a zombie, which PostgreSQL
        would take for a live server and refuse to start."""
        lock_file = self.folder / "postmaster.pid"
        try:
            lines = lock_file.read_text().splitlines()
        except OSError:
            return
        if self.pid is not None:
            return
        if len(lines) > 4 and lines[3].strip() and lines[4].strip():  # its port and socket folder
            socket = Path(lines[4].strip()) / f".s.PGSQL.{lines[3].strip()}"
            Path(f"{socket}.lock").unlink(missing_ok=True)
        lock_file.unlink(missing_ok=True)
