"""The bundled PostgreSQL 16 from the pgserver package, listening on a Unix socket inside the data folder."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

# pgserver falls back to /tmp for its lock file when XDG_RUNTIME_DIR is unset, and warns each time.
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")

DATABASE_NAME = "tuneyard"


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
