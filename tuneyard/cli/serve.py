"""tuneyard serve (the API, its workers and the bundled servers, supervised) and tuneyard worker."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import Iterator

import uvicorn

from tuneyard.cli.services import apply_migrations, backing_services, embedded_package
from tuneyard.core.config import Settings
from tuneyard.core.principal import Role


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
    from tuneyard.core.migrations import MigrationLockTimeout
    from tuneyard.server.app import create_app
    from tuneyard.server.logs import buffer_log_output, use_log_format

    problem = broker_problem(settings)
    if problem:
        print(f"tuneyard: {problem}", file=sys.stderr)
        return 2
    _raise_on_sigterm()
    os.umask(0o077)  # everything written under TUNEYARD_HOME (exports, logs, data) is the owner's only
    home = settings.home.expanduser().resolve()
    print(f"tuneyard: using {home} (TUNEYARD_HOME)", file=sys.stderr, flush=True)
    with contextlib.ExitStack() as stack:
        if settings.database_url is None or not settings.redis_url:
            # Bundled servers: one serve per home. A second one refuses before it touches anything.
            stack.enter_context(embedded_package().serve_lock(home))
        else:
            from tuneyard.embedded.home import make_private

            home.mkdir(parents=True, exist_ok=True)
            make_private(home)
        database_url, redis_url = stack.enter_context(backing_services(settings, supervise=True))
        try:
            applied = asyncio.run(apply_migrations(database_url))
        except MigrationLockTimeout as error:
            print(f"tuneyard: {error}", file=sys.stderr, flush=True)
            return 1
        if applied:
            print(f"applied migrations: {', '.join(applied)}", flush=True)
        token = asyncio.run(_first_admin_token(database_url)) if settings.database_url is None else None
        if token:
            print(f"admin token (shown once; keep it): {token}", flush=True)
        buffer_log_output()
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


def _queue_names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def broker_problem(settings: Settings) -> str | None:
    """What is wrong with the queue's settings (TUNEYARD_BROKER_URL, TUNEYARD_QUEUE_NAMESPACE), or None."""
    from tuneyard.core.queue import broker_kind

    try:
        broker_kind(settings)
    except ValueError as error:
        return str(error)
    return None


def worker(args: argparse.Namespace, settings: Settings) -> int:
    """Run job workers against the configured PostgreSQL and Redis (a bundled pair belongs to `serve`)."""
    from tuneyard.workers.main import choose_queues, import_task_modules, run_worker
    from tuneyard.workers.supervisor import WorkerProcesses

    if not settings.database_url or not settings.redis_url:
        print(
            "tuneyard worker needs TUNEYARD_DATABASE_URL and TUNEYARD_REDIS_URL; "
            "`tuneyard serve` runs its own worker on the bundled servers",
            file=sys.stderr,
        )
        return 2
    problem = broker_problem(settings)
    if problem:
        print(f"tuneyard: {problem}", file=sys.stderr)
        return 2
    threads = args.threads or settings.worker_threads
    # The options win over the settings; neither: every queue.
    chosen = settings.worker_queues if args.queues is None else args.queues
    queues = _queue_names(chosen) if args.queues is not None or settings.worker_queues.strip() else None
    exclude = _queue_names(settings.worker_exclude_queues if args.exclude_queues is None else args.exclude_queues)
    if args.processes <= 1:
        return run_worker(
            settings, settings.database_url, settings.redis_url, threads, queues, args.parent_pid, exclude
        )
    # Checked here too: children that exit at once for a bad queue name would be started again every second.
    import_task_modules(settings)
    try:
        choose_queues(queues, exclude)
    except ValueError as error:
        print(f"tuneyard: {error}", file=sys.stderr)
        return 2
    processes = WorkerProcesses(
        args.processes, threads, dict(os.environ), settings.worker_stop_grace_seconds, queues, exclude
    )
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: processes.request_stop())
    processes.start()
    processes.wait()
    processes.stop()
    return 0
