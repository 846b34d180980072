"""Forward-only SQL migrations shipped in tuneyard/migrations, each applied once in its own transaction.

Every replica runs `migrate` at start, so several may run it at once, while older replicas still serve: one takes
an advisory lock and applies what is pending, the others wait for it and find nothing left to do. A migration
never waits long for a table lock (a statement queued behind it would wait too, stalling the replicas that
serve): past LOCK_TIMEOUT_SECONDS it is rolled back and tried again, and after LOCK_ATTEMPTS it fails saying so.
What a migration may contain so that old replicas keep working (expand, then contract a release later): README,
"Deploying: replicas and workers"; tests/core/test_migrations.py enforces what it can.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from importlib import resources

import asyncpg

log = logging.getLogger(__name__)

# Any constant works; it only has to be the same for every Tuneyard process.
_LOCK_KEY = 0x7475_6E65
LOCK_TIMEOUT_SECONDS = 3.0  # the longest one statement of a migration waits for a table lock
LOCK_ATTEMPTS = 5  # tries of a migration that timed out waiting for a lock, 1, 2, 4, 8 s apart
MIGRATION_LOCK_POLL = 0.2  # seconds between tries of the advisory lock while another process migrates
WAITING_NOTICE_SECONDS = 10.0  # how often a process waiting for another one's migration says so


class MigrationLockTimeout(RuntimeError):
    """A migration could not take its table locks: a long transaction holds them."""


def available() -> list[tuple[str, str]]:
    """(version, sql) for every migration file, in order."""
    folder = resources.files("tuneyard") / "migrations"
    files = sorted((f.name, f) for f in folder.iterdir() if f.name.endswith(".sql"))
    return [(name.removesuffix(".sql"), f.read_text()) for name, f in files]


async def migrate(
    connection: asyncpg.Connection,
    migrations: Sequence[tuple[str, str]] | None = None,
    *,
    lock_timeout: float = LOCK_TIMEOUT_SECONDS,
    attempts: int = LOCK_ATTEMPTS,
) -> list[str]:
    """Apply pending migrations (`migrations`, default: the shipped ones); returns the versions applied.

    MigrationLockTimeout when one kept waiting for a table lock; the ones before it stay applied.
    """
    # First the lock, then everything else: two sessions creating schema_migrations at once can both fail.
    await _lock(connection)
    try:
        await connection.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r["version"] for r in await connection.fetch("SELECT version FROM schema_migrations")}
        applied = []
        for version, sql in available() if migrations is None else migrations:
            if version in done:
                continue
            await _apply(connection, version, sql, lock_timeout, attempts)
            applied.append(version)
        return applied
    finally:
        await connection.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)


async def _lock(connection: asyncpg.Connection) -> None:
    """Take the migration lock, saying every WAITING_NOTICE_SECONDS that another process holds it."""
    notice_at = time.monotonic()
    while not await connection.fetchval("SELECT pg_try_advisory_lock($1)", _LOCK_KEY):
        if time.monotonic() >= notice_at:
            log.info("waiting for another process to finish migrating the database")
            notice_at += WAITING_NOTICE_SECONDS
        await asyncio.sleep(MIGRATION_LOCK_POLL)


async def _apply(connection: asyncpg.Connection, version: str, sql: str, lock_timeout: float, attempts: int) -> None:
    for attempt in range(1, attempts + 1):
        try:
            async with connection.transaction():
                # For this migration's transaction only (a statement of it may set its own).
                await connection.execute(
                    "SELECT set_config('lock_timeout', $1, true)", f"{round(lock_timeout * 1000)}ms"
                )
                await connection.execute(sql)
                await connection.execute("INSERT INTO schema_migrations (version) VALUES ($1)", version)
            return
        except asyncpg.LockNotAvailableError as error:
            if attempt == attempts:
                raise MigrationLockTimeout(
                    f"migration {version} could not take its table locks: {attempts} tries each waited "
                    f"{lock_timeout:g} s ({error}); a long transaction holds them. Nothing of {version} was "
                    "applied; run `tuneyard migrate` again once it ended (pg_stat_activity shows it)"
                ) from error
            pause = 2.0 ** (attempt - 1)
            log.warning(
                "migration %s: waited %g s for a table lock; trying again in %g s", version, lock_timeout, pause
            )
            await asyncio.sleep(pause)
