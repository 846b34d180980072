"""The asyncpg pool: JSON codecs on every connection, driver errors mapped at the edge."""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson


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
