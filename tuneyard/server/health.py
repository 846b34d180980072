"""GET /healthz: whether the database and Redis answer, as states only ("ok" or "unavailable"); what went wrong
goes to the log, once per outage, never to the client (its text names internal hosts and ports)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import asyncpg
from redis.asyncio import Redis
from starlette.requests import Request
from starlette.responses import JSONResponse

log = logging.getLogger("tuneyard.health")

PROBE_SECONDS = 1.0  # how often the services are asked; /healthz reports the latest answers
TIMEOUT_SECONDS = 2.0
OK, UNAVAILABLE = "ok", "unavailable"


class Health:
    """The probes behind /healthz, run in the background every PROBE_SECONDS.

    /healthz answers from the latest probe, so it answers at once whatever the database is busy with, and a flood
    of health checks costs the services nothing. The database is asked over a connection of its own, not the
    pool's: a pool busy with the heaviest allowed requests must not make a healthy database look down.
    """

    def __init__(self, database_url: str, redis: Redis) -> None:
        self.database_url = database_url
        self.redis = redis
        self.connection: asyncpg.Connection | None = None
        self.states = {"database": OK, "redis": OK}
        self.probed = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._run(), name="healthz-probe")

    async def report(self) -> dict[str, str]:
        """{"status": "ok" | "degraded", "database": state, "redis": state}, as of the latest probe."""
        await self.probed.wait()  # only the first request after start-up can wait, for the first probe
        database, redis = self.states["database"], self.states["redis"]
        return {"status": "ok" if database == redis == OK else "degraded", "database": database, "redis": redis}

    async def _run(self) -> None:
        while True:
            await asyncio.gather(self._probe("database", self._database), self._probe("redis", self.redis.ping))
            self.probed.set()
            await asyncio.sleep(PROBE_SECONDS)

    async def _probe(self, name: str, ask: Callable[[], Awaitable[object]]) -> None:
        try:
            await asyncio.wait_for(ask(), TIMEOUT_SECONDS)
            state = OK
        except Exception as error:  # any failure is "unavailable"; its text goes to the log only
            state = UNAVAILABLE
            if self.states[name] == OK:
                detail = str(error)[:200] or f"no answer within {TIMEOUT_SECONDS} s"
                log.warning("healthz: %s unavailable: %s: %s", name, type(error).__name__, detail)
        if state == OK and self.states[name] != OK:
            log.warning("healthz: %s answers again", name)
        self.states[name] = state

    async def _database(self) -> None:
        if self.connection is None or self.connection.is_closed():
            self.connection = await asyncpg.connect(self.database_url, timeout=TIMEOUT_SECONDS)
        try:
            await self.connection.fetchval("SELECT 1")
        except BaseException:
            self.connection.terminate()  # a timed-out or broken connection is not used again
            self.connection = None
            raise

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        if self.connection is not None:
            self.connection.terminate()


async def healthz(request: Request) -> JSONResponse:
    """200 with every service "ok"; 503 "degraded" when one is unavailable. No token needed."""
    report = await request.app.state.health.report()
    return JSONResponse(report, 200 if report["status"] == "ok" else 503)
