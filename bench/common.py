"""Bench plumbing: a scratch database on a PostgreSQL server and a `tuneyard serve` process over it."""

from __future__ import annotations

import asyncio
import os
import statistics
import uuid
from typing import Any

import asyncpg
import orjson

from tests.support import Server, databases, service_env, tuneyard

ADMIN_URL = os.environ.get("TUNEYARD_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TUNEYARD_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")

__all__ = [
    "ADMIN_URL",
    "REDIS_URL",
    "RawHTTP",
    "Server",
    "create_database",
    "drop_database",
    "percentile",
    "start_server",
]


async def create_database() -> str:
    return await databases.create_database(ADMIN_URL)


async def drop_database(url: str) -> None:
    await databases.drop_database(ADMIN_URL, url)


def start_server(database_url: str, **settings: str) -> tuple[Server, str]:
    """A running server (with `settings` as TUNEYARD_* variables) and an ADMIN token for it."""
    home = f"/tmp/tuneyard-bench-{uuid.uuid4().hex[:8]}"
    env = service_env(database_url, REDIS_URL, TUNEYARD_HOME=home, **settings)
    token = tuneyard("token", "create", "--role", "ADMIN", "--name", "bench", env=env).strip()
    server = Server(env)
    server.start()
    return server, token


def percentile(samples: list[float], q: float) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[int(q) - 1] if len(samples) > 1 else samples[0]


async def connect(url: str) -> asyncpg.Connection:
    return await asyncpg.connect(url)


class RawHTTP:
    """A minimal keep-alive HTTP/1.1 client, so that timings are the server's and not a client library's."""

    def __init__(self, url: str, token: str) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.host, self.port, self.token = host, int(port), token
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, payload: dict[str, Any]) -> tuple[int, bytes]:
        try:
            return await self._post(path, payload)
        except (ConnectionError, IndexError):  # the server closed an idle keep-alive connection
            await self.close()
            return await self._post(path, payload)

    async def _post(self, path: str, payload: dict[str, Any]) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        body = orjson.dumps(payload)
        self.writer.write(
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nAuthorization: Bearer {self.token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        status_line = await self.reader.readline()
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
        return int(status_line.split()[1]), await self.reader.readexactly(length)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None
