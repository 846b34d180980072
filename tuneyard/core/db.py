"""The asyncpg pool: JSON codecs on every connection, driver errors mapped at the edge, transactions retried
when PostgreSQL aborts them for a concurrent one."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncpg
import orjson
from asyncpg.pool import PoolConnectionProxy

from tuneyard.core import audit
from tuneyard.core.errors import WriteConflictError
from tuneyard.core.outages import DATABASE, ServiceUnavailable, report, service_of

Connection = asyncpg.Connection | PoolConnectionProxy
Pool = asyncpg.Pool
Executor = Pool | Connection
T = TypeVar("T")

log = logging.getLogger("tuneyard.core.db")

# A deadlock victim or a serialization failure is rolled back whole, so its transaction can simply run again.
RETRIED = (asyncpg.DeadlockDetectedError, asyncpg.SerializationError)
ATTEMPTS = 4
BACKOFF_SECONDS = 0.01  # the first retry waits up to this (random, so colliding writers drift apart), doubling after
CONNECT_TIMEOUT = 5.0  # seconds; a server that is down usually refuses at once


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


async def _connect(*args: Any, **kwargs: Any) -> asyncpg.Connection:
    """asyncpg.connect, a server that cannot be reached reported as UNAVAILABLE: the pool reconnects through this
    on every acquire after a lost connection, so requests made during an outage get a clear, retryable error."""
    try:
        return await asyncpg.connect(*args, **kwargs)
    except (OSError, TimeoutError) as error:
        raise ServiceUnavailable(DATABASE) from error
    except asyncpg.PostgresError as error:
        if service_of(error) is None:
            raise  # wrong password, no such database: configuration, not an outage
        raise ServiceUnavailable(DATABASE) from error


class _OutageOnce(logging.Filter):
    """asyncpg's pool logs a traceback each time it fails to reconnect its floor; an outage is said once, by
    tuneyard.core.outages, instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if error is not None and service_of(error) is not None:
            report(DATABASE, error)
            return False
        return True


logging.getLogger("asyncpg.pool").addFilter(_OutageOnce())


async def create_pool(dsn: str, *, max_size: int = 10) -> asyncpg.Pool:
    """A pool whose connections decode JSON with orjson, and that reconnects by itself after an outage."""
    pool = await asyncpg.create_pool(
        dsn,
        connect=_connect,
        timeout=CONNECT_TIMEOUT,
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
    """A parameterised SQL condition with its $1..$n values, over the alias `e` of examples (or `s` of `relation`).

    `per_value_plan`: its best plan depends on the values (a word to search for may match ten rows or a million), so
    it is planned for each run's values (see fetch_planned), never with a prepared statement's generic plan.
    `summary`: where the example summary can answer the condition, the same selection as parts that add up (no
    example in two): conditions over summary rows (alias `s` of their `relation`), and over examples (alias `e`) for
    what the summary leaves to them.
    """

    sql: str
    params: Sequence[Any]
    per_value_plan: bool = False
    summary: tuple[Condition, ...] | None = None
    relation: str = "examples"


async def fetch_planned(
    executor: Executor, condition: Condition, sql: str, *params: Any, timeout_ms: int | None = None
) -> list[asyncpg.Record]:
    """executor.fetch(sql, *params), planned for these values when the condition asks for it, and cancelled
    (asyncpg.QueryCanceledError) past `timeout_ms` when given.

    asyncpg prepares every statement; from a prepared statement's sixth run on, PostgreSQL may keep one generic plan
    for all values. For a word search that plan walks the newest examples testing each (right for a common word),
    which for a rare word at ten million examples reads them all: seconds where a plan for the word takes 50 ms.
    `plan_cache_mode` for one transaction makes the statement planned for its values every time. Such a plan may
    gather a hundred thousand matches in a bitmap: work_mem keeps it exact (past 4 MB it turns lossy, and each row of
    a lossy page is tested again: seconds at ten million examples), and no JIT (it compiled for 0.7 s to save less).
    """
    if not condition.per_value_plan and timeout_ms is None:
        return await executor.fetch(sql, *params)
    if isinstance(executor, asyncpg.Pool):
        async with executor.acquire() as conn:
            return await fetch_planned(conn, condition, sql, *params, timeout_ms=timeout_ms)
    settings = []
    if condition.per_value_plan:
        settings.append(
            "SET LOCAL plan_cache_mode = force_custom_plan; SET LOCAL jit = off; SET LOCAL work_mem = '32MB'"
        )
    if timeout_ms is not None:
        settings.append(f"SET LOCAL statement_timeout = {int(timeout_ms)}")
    async with executor.transaction(readonly=True):
        await executor.execute("; ".join(settings))
        return await executor.fetch(sql, *params)


async def xact_lock(conn: Connection, key: int) -> None:
    """Hold the advisory lock `key` until the surrounding transaction ends."""
    await conn.execute("SELECT pg_advisory_xact_lock($1)", key)


async def transact(
    pool: Pool, work: Callable[[Connection], Awaitable[T]], *, affected: Callable[[T], int | None] | None = None
) -> T:
    """Run `work` in one transaction on a pooled connection, and again from the start when PostgreSQL aborts it as a
    deadlock victim or a serialization failure, at most ATTEMPTS times in all; then raise WriteConflictError.

    Writers take their locks in one order so that deadlocks should not happen; this is the safety net. Inside an
    audited mutation whose entry is not written yet, the entry is written last, counting `affected(result)` rows.
    """
    attempt = 1
    while True:
        try:
            scope = audit.pending()
            async with pool.acquire() as conn, conn.transaction():
                result = await work(conn)
                if scope is not None:
                    entry_id = await audit.insert(conn, scope, None if affected is None else affected(result))
            if scope is not None:
                scope.entry_id = entry_id  # committed: a later transaction of the same mutation writes no other
            return result
        except RETRIED as error:
            if attempt == ATTEMPTS:
                raise WriteConflictError(
                    f"concurrent writes to the same rows aborted this one {ATTEMPTS} times ({error.message}); "
                    "nothing of it was written, and sending it again is safe"
                ) from error
            log.warning("transaction aborted (%s: %s), running it again", error.sqlstate, error.message)
            await asyncio.sleep(random.uniform(0, BACKOFF_SECONDS * 2 ** (attempt - 1)))
            attempt += 1
