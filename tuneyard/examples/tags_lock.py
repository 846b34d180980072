"""Writers of example_tags serialize on one transaction lock, so each reads the tags it replaces as they are.

Tag writes are set operations computed from the current tags (add, remove, merge); without the lock, two
writers reading the same old set would each write their own result and one change would be lost.
"""

from __future__ import annotations

import asyncpg
from asyncpg.pool import PoolConnectionProxy

_LOCK_KEY = 0x7461_6773


async def lock(conn: asyncpg.Connection | PoolConnectionProxy) -> None:
    """Hold the tags lock until the surrounding transaction ends; take it before the statement that reads."""
    await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
