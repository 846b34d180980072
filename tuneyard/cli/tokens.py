"""tuneyard token create|list|revoke, on the installation the home or TUNEYARD_DATABASE_URL names."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlsplit

from tuneyard.cli.services import apply_migrations, backing_services
from tuneyard.core.config import Settings
from tuneyard.core.errors import TuneyardError, ValidationError
from tuneyard.core.principal import Role

if TYPE_CHECKING:
    import asyncpg

    from tuneyard.auth.models import ApiToken

T = TypeVar("T")


def _token_database(args: argparse.Namespace, settings: Settings) -> contextlib.AbstractContextManager[tuple[str, str]]:
    """The database a token command works on, said on stderr. The bundled one must already be installed in
    TUNEYARD_HOME unless --init was given: a mistyped or unset home would otherwise start a new, empty installation
    and act on it (exit status 1, saying so)."""
    if settings.database_url:
        where = urlsplit(settings.database_url)
        database = f"{where.hostname or 'localhost'}:{where.port or 5432}{where.path}"  # never the password
        print(f"tuneyard: using the database {database} (TUNEYARD_DATABASE_URL)", file=sys.stderr)
    else:
        home = settings.home.expanduser().resolve()
        if not (home / "postgres" / "PG_VERSION").exists() and not args.init:
            raise SystemExit(
                f"tuneyard: no Tuneyard installation in {home} (TUNEYARD_HOME), and TUNEYARD_DATABASE_URL is not set. "
                "Set TUNEYARD_HOME to the folder `tuneyard serve` uses, or pass --init to create a new installation "
                "there."
            )
        print(f"tuneyard: using the installation in {home} (TUNEYARD_HOME)", file=sys.stderr)
    return backing_services(settings, redis=False)


async def _with_tokens_pool(database_url: str, work: Callable[[asyncpg.Pool], Awaitable[T]]) -> T:
    """Migrate the database (token commands may run before the first `serve`), then `work` on a one-connection pool."""
    from tuneyard.core.db import create_pool

    await apply_migrations(database_url)
    pool = await create_pool(database_url, max_size=1)
    try:
        return await work(pool)
    finally:
        await pool.close()


def _token_failure(error: TuneyardError) -> int:
    print(f"tuneyard: {error.message}", file=sys.stderr)
    return 2 if isinstance(error, ValidationError) else 1


def token_create(args: argparse.Namespace, settings: Settings) -> int:
    from tuneyard.auth.service import create_token

    with _token_database(args, settings) as (database_url, _):
        try:
            token = asyncio.run(
                _with_tokens_pool(database_url, lambda pool: create_token(pool, Role[args.role], args.name))
            )
        except TuneyardError as error:
            return _token_failure(error)
    print(token)
    return 0


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def token_list(args: argparse.Namespace, settings: Settings) -> int:
    from tuneyard.auth.service import listed

    with _token_database(args, settings) as (database_url, _):
        found = asyncio.run(_with_tokens_pool(database_url, listed))
    header = ("ID", "NAME", "ROLE", "CREATED (UTC)", "LAST USED (UTC)", "REVOKED (UTC)")
    rows = [header] + [
        (str(t.id), t.name, t.role.name, _when(t.created_at), _when(t.last_used_at), _when(t.revoked_at)) for t in found
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return 0


def token_revoke(args: argparse.Namespace, settings: Settings) -> int:
    """Revoke any token, even the last ADMIN one (the API refuses that; here `token create` is always the way back)."""
    from tuneyard.auth.service import listed, revoke

    async def work(pool: asyncpg.Pool) -> tuple[ApiToken, bool]:
        token = await revoke(pool, args.id, None)
        return token, any(t.role is Role.ADMIN and t.revoked_at is None for t in await listed(pool))

    with _token_database(args, settings) as (database_url, _):
        try:
            token, admins_left = asyncio.run(_with_tokens_pool(database_url, work))
        except TuneyardError as error:
            return _token_failure(error)
    print(f"token {token.id} ({token.name}, {token.role.name}) revoked at {_when(token.revoked_at)} UTC")
    if not admins_left:
        print(
            "tuneyard: no unrevoked ADMIN token is left; `tuneyard token create --role ADMIN --name NAME` makes one",
            file=sys.stderr,
        )
    return 0
