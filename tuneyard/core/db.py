"""The asyncpg pool: JSON codecs on every connection, driver errors mapped at the edge."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson
from asyncpg.pool import PoolConnectionProxy

Connection = asyncpg.Connection | PoolConnectionProxy
Pool = asyncpg.Pool
Executor = Pool | Connection


def _encode_json(value: Any) -> str:
    return orjson.dumps(value).decode()


async def _init_connection(connection: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await connection.set_type_codec(
            type_name, schema="pg_catalog", encoder=_encode_json, decoder=orjson.loads, format="text"
        )


async def _keep_session(connection: asyncpg.Connection) -> None:
    """Nothing to reset: Tuneyard never changes session state on pooled connections (no SET, no LISTEN,
    only transaction-scoped advisory locks), and asyncpg still rolls back any open transaction.
    This saves the round trip of the default RESET ALL on every release."""


async def create_pool(dsn: str, *, max_size: int = 10) -> asyncpg.Pool:
    """A pool whose connections decode JSON with orjson."""
    pool = await asyncpg.create_pool(
        dsn,
        min_size=1,
        max_size=max_size,
        init=_init_connection,
        command_timeout=300,
        server_settings={"timezone": "UTC"},
        reset=_keep_session,
    )
    assert pool is not None
    return pool


@dataclass(frozen=True, slots=True)
class Condition:
    """A parameterised SQL condition over the alias `e` (an example), with its $1..$n values."""

    sql: str
    params: Sequence[Any]


async def xact_lock(conn: Connection, key: int) -> None:
    """Hold the advisory lock `key` until the surrounding transaction ends."""
    await conn.execute("SELECT pg_advisory_xact_lock($1)", key)
