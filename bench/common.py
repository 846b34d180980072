"""Bench plumbing: a scratch database on a PostgreSQL server and a `tuneyard serve` process over it."""

from __future__ import annotations

import os
import statistics
import uuid

import asyncpg

from tests.conftest import _create_database, _drop_database
from tests.support import Server, service_env, tuneyard

ADMIN_URL = os.environ.get("TUNEYARD_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TUNEYARD_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")

__all__ = ["ADMIN_URL", "REDIS_URL", "Server", "create_database", "drop_database", "percentile", "start_server"]


async def create_database() -> str:
    return await _create_database(ADMIN_URL)


async def drop_database(url: str) -> None:
    await _drop_database(ADMIN_URL, url)


def start_server(database_url: str) -> tuple[Server, str]:
    """A running server and a CURATOR token for it."""
    env = service_env(database_url, REDIS_URL, TUNEYARD_HOME=f"/tmp/tuneyard-bench-{uuid.uuid4().hex[:8]}")
    token = tuneyard("token", "create", "--role", "ADMIN", "--name", "bench", env=env).strip()
    server = Server(env)
    server.start()
    return server, token


def percentile(samples: list[float], q: float) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[int(q) - 1] if len(samples) > 1 else samples[0]


async def connect(url: str) -> asyncpg.Connection:
    return await asyncpg.connect(url)
