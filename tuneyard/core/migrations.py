"""Forward-only SQL migrations shipped in tuneyard/migrations, each applied once in its own transaction."""

from __future__ import annotations

from importlib import resources

import asyncpg

# Any constant works; it only has to be the same for every Tuneyard process.
_LOCK_KEY = 0x7475_6E65


def available() -> list[tuple[str, str]]:
    """(version, sql) for every migration file, in order."""
    folder = resources.files("tuneyard") / "migrations"
    files = sorted((f.name, f) for f in folder.iterdir() if f.name.endswith(".sql"))
    return [(name.removesuffix(".sql"), f.read_text()) for name, f in files]


async def migrate(connection: asyncpg.Connection) -> list[str]:
    """Apply pending migrations; returns the versions applied (empty when up to date)."""
    await connection.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
    )
    # Two servers starting together must not apply the same file twice.
    await connection.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        done = {r["version"] for r in await connection.fetch("SELECT version FROM schema_migrations")}
        applied = []
        for version, sql in available():
            if version in done:
                continue
            async with connection.transaction():
                await connection.execute(sql)
                await connection.execute("INSERT INTO schema_migrations (version) VALUES ($1)", version)
            applied.append(version)
        return applied
    finally:
        await connection.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
