"""Outages of the database and Redis: driver errors mapped to UnavailableError, one log line per outage.

Every layer that meets a lost connection (the masking of GraphQL errors, the lean HTTP path, the progress
listener, the workers) hands the error to `unavailable()`: a connection error of asyncpg or redis-py becomes
a retryable UNAVAILABLE error naming the service, and the first one of an outage is logged as ONE line. The
recovery is logged once too: a probe (registered with `watch`) asks the service every PROBE_SECONDS until it
answers, and whoever reconnects first may say so with `recovered()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import asyncpg
import redis

from tuneyard.core.errors import TuneyardError, UnavailableError

log = logging.getLogger("tuneyard.outages")

DATABASE = "database"
REDIS = "redis"
PROBE_SECONDS = 1.0

# The connection to PostgreSQL is gone, refused, or being refused (the server is shutting down or starting up,
# or every slot is taken); any other PostgresError is about the statement, not the service.
_DATABASE_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,  # ConnectionDoesNotExistError, ConnectionFailureError, ...
    asyncpg.OperatorInterventionError,  # AdminShutdownError, CrashShutdownError, CannotConnectNowError
    asyncpg.TooManyConnectionsError,
    # What asyncpg raises, instead of a connection error, on a connection the server dropped in the middle of an
    # operation ("cannot switch to state 12; another operation (2) is in progress": asyncpg issue #1069): seen here
    # on the first request after PostgreSQL was killed.
    asyncpg.InternalClientError,
)
_REDIS_ERRORS: tuple[type[BaseException], ...] = (redis.ConnectionError, redis.TimeoutError)
_MESSAGES = {
    DATABASE: "the database is unavailable; nothing was changed by the failed part, so sending it again is safe",
    REDIS: "Redis (the job queue and live progress) is unavailable; try again shortly",
}


class ServiceUnavailable(UnavailableError):
    """A backing service cannot be reached; `service` names it (database or redis). Retrying later may succeed."""

    retryable = True

    def __init__(self, service: str, message: str | None = None) -> None:
        super().__init__(message or _MESSAGES[service])
        self.service = service


# Every error that means "a backing service went away", for an `except` clause.
ERRORS: tuple[type[BaseException], ...] = (ServiceUnavailable, *_DATABASE_ERRORS, *_REDIS_ERRORS)


def service_of(error: BaseException) -> str | None:
    """The service whose lost connection `error` (or an error it was raised from) reports, or None."""
    seen: BaseException | None = error
    for _ in range(5):  # causes chain through our own wrappers, a few levels at most
        if seen is None:
            return None
        if isinstance(seen, ServiceUnavailable):
            return seen.service
        if isinstance(seen, TuneyardError):
            return None  # an error raised on purpose says what it means, whatever it was raised from
        if isinstance(seen, _DATABASE_ERRORS):
            return DATABASE
        if isinstance(seen, _REDIS_ERRORS):
            return REDIS
        if isinstance(seen, asyncpg.InterfaceError) and "closed" in str(seen):
            return DATABASE  # "connection is closed": a connection the server dropped, used again
        seen = seen.__cause__  # an explicit `raise ... from`, never an error that merely happened meanwhile
    return None


def unavailable(error: BaseException) -> ServiceUnavailable | None:
    """The UNAVAILABLE error for a lost connection (the outage noted and logged once), else None."""
    service = service_of(error)
    if service is None:
        return None
    report(service, error)
    return error if isinstance(error, ServiceUnavailable) else ServiceUnavailable(service)


Probe = Callable[[], Awaitable[object]]


@dataclass
class _Service:
    """What is known of one service: since when it is down, and how to ask it whether it is back."""

    name: str
    down_since: float | None = None
    probe: Probe | None = None
    loop: asyncio.AbstractEventLoop | None = field(default=None, repr=False)  # where the probe runs
    probing: asyncio.Task[None] | None = field(default=None, repr=False)


_services = {name: _Service(name) for name in (DATABASE, REDIS)}


def watch(service: str, probe: Probe | None) -> None:
    """Register (or with None, forget) how this process asks `service` whether it is back after an outage; called
    on the event loop the probe runs on."""
    state = _services[service]
    state.probe = probe
    state.loop = None if probe is None else asyncio.get_running_loop()
    if probe is None and state.probing is not None:
        state.probing.cancel()
        state.probing = None


def is_down(service: str) -> bool:
    return _services[service].down_since is not None


def report(service: str, error: BaseException) -> None:
    """Note that `service` is unreachable: the first report of an outage logs one line, later ones nothing."""
    state = _services[service]
    if state.down_since is None:
        state.down_since = time.monotonic()
        cause = error.__cause__ if isinstance(error, ServiceUnavailable) and error.__cause__ else error
        log.error("%s unavailable: %s: %s", service, type(cause).__name__, str(cause)[:200] or "(no message)")
    _start_probing(state)


def recovered(service: str) -> None:
    """Note that `service` answers again; logs one line if it was down."""
    state = _services[service]
    if state.down_since is not None:
        log.warning("%s is back after %.1f s", service, time.monotonic() - state.down_since)
        state.down_since = None


def _start_probing(state: _Service) -> None:
    if state.probe is None or state.loop is None or (state.probing is not None and not state.probing.done()):
        return
    try:
        here = asyncio.get_running_loop()
    except RuntimeError:
        here = None
    if here is not state.loop:  # reported from another thread (a queue consumer, a blocking call)
        with contextlib.suppress(RuntimeError):  # the loop is closed: the process is stopping
            state.loop.call_soon_threadsafe(_start_probing, state)
        return
    state.probing = here.create_task(_probe(state, state.probe), name=f"{state.name}-outage-probe")


class QueueConsumerOutages(logging.Filter):
    """Dramatiq's queue consumers (one per queue) each say every 3 s that Redis is down and that they try again;
    while it is, the outage is logged once instead (a log handler filter of worker processes)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("dramatiq.worker.ConsumerThread"):
            return True
        message = record.getMessage()
        if message.startswith("Consumer encountered a connection error"):
            report(REDIS, ConnectionError(message.partition(": ")[2]))
            return False
        return not (message.startswith("Restarting consumer") and is_down(REDIS))


async def _probe(state: _Service, probe: Probe) -> None:
    while state.down_since is not None:
        await asyncio.sleep(PROBE_SECONDS)
        with contextlib.suppress(Exception):  # still down: any failure means the same
            await probe()
            recovered(state.name)
