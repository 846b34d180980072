"""PostGraphile as a child process: the installed CLI, with bench/peer's config file, over the bench database."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from typing import IO
from urllib.parse import parse_qs, unquote, urlsplit

import httpx

from bench.peer.install import PeerInstall
from tests.support import free_port

APPLICATION_NAME = "tuneyard-peer-postgraphile"


def libpq_env(database_url: str) -> dict[str, str]:
    """The PG* variables node-postgres reads, from a postgresql:// URL.

    The host may be a TCP host or a unix socket folder, given either as `?host=/folder` or percent-encoded in place
    of the host (`postgresql://user@%2Ffolder/db`), as asyncpg and libpq accept both.
    """
    url = urlsplit(database_url)
    userinfo, _, hostport = url.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    host, _, port = hostport.partition(":")
    given = {
        "PGHOST": unquote(host), "PGPORT": port, "PGUSER": unquote(user), "PGPASSWORD": unquote(password),
        "PGDATABASE": unquote(url.path.lstrip("/")),
    }  # fmt: skip
    for name, values in parse_qs(url.query).items():
        key = {"host": "PGHOST", "port": "PGPORT", "user": "PGUSER", "password": "PGPASSWORD", "dbname": "PGDATABASE"}
        if name in key:
            given[key[name]] = values[-1]
    return {name: value for name, value in given.items() if value}


@dataclass
class PostGraphile:
    """`postgraphile -C graphile.config.mjs` in production mode, listening on 127.0.0.1."""

    install: PeerInstall
    database_url: str
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    output: IO[bytes] | None = None  # a file, never a pipe: nobody reads it while the bench runs

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> None:
        """Start it and wait until it answers a query (it builds its schema from the database first)."""
        # Only the PG* variables given here: none of the caller's may point node-postgres somewhere else.
        env = {name: value for name, value in os.environ.items() if not name.startswith("PG")}
        env.update(libpq_env(self.database_url), NODE_ENV="production", PEER_PORT=str(self.port))
        env["PGAPPNAME"] = APPLICATION_NAME
        self.output = tempfile.TemporaryFile()  # noqa: SIM115 (it lives as long as the process; stop() closes it)
        self.process = subprocess.Popen(
            [str(self.install.node), str(self.install.cli), "-C", str(self.install.config)],
            cwd=self.install.app, env=env, stdout=self.output, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"PostGraphile exited ({self.process.returncode}):\n{self.logs()}")
            try:
                if httpx.post(f"{self.url}/graphql", json={"query": "{ __typename }"}, timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"PostGraphile did not answer within {timeout:g} s:\n{self.logs()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.output is not None:
            self.output.close()

    def logs(self) -> str:
        assert self.output is not None
        self.output.seek(0)
        return self.output.read().decode(errors="replace")
