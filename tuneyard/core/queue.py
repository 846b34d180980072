"""The Dramatiq broker on Redis, job actors registered by name, and sending a job's message.

Actor modules (tuneyard/workers/actors/*.py) only register their work with `job_actor`; the Dramatiq
actors are declared when a worker configures its broker, so importing an actor module anywhere (an API
server, a test) never creates a broker as a side effect.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.message import Message
from dramatiq.middleware import Middleware

from tuneyard.core.config import Settings
from tuneyard.core.errors import UnavailableError
from tuneyard.core.redis import sync_client

log = logging.getLogger(__name__)

QUEUE = "jobs"
Work = Callable[[Any], Awaitable[Any]]  # a job's work, given its run (tuneyard.jobs.runner.JobRun)
# A dead worker's unacknowledged messages go back to the queue after this long; the job reaper has
# usually retried the job by then, and the claim in SQL makes the late copy a no-op.
BROKER_HEARTBEAT_MS = 60_000

_works: dict[str, Work] = {}
_broker: RedisBroker | None = None


def job_actor(name: str) -> Callable[[Work], Work]:
    """Register `work(run)` as the job actor `name` ("area.verb"); its message carries only the job id."""

    def register(work: Work) -> Work:
        if name in _works and _works[name] is not work:
            raise ValueError(f"job actor {name!r} is registered twice")
        _works[name] = work
        return work

    return register


def registered() -> dict[str, Work]:
    return dict(_works)


def configure(settings: Settings, redis_url: str, middleware: Sequence[Middleware] = ()) -> RedisBroker:
    """Make the process's broker: keys under the queue namespace, only the middleware given."""
    global _broker
    broker = RedisBroker(
        client=sync_client(redis_url),
        namespace=settings.queue_namespace,
        heartbeat_timeout=BROKER_HEARTBEAT_MS,
        middleware=list(middleware),
    )
    dramatiq.set_broker(broker)
    _broker = broker
    return broker


def declare_actors(broker: RedisBroker, execute: Callable[[int, Work], Awaitable[None]]) -> list[str]:
    """Declare a Dramatiq actor per registered job actor, each running `execute(job_id, work)`."""
    for name, work in _works.items():

        async def run(job_id: int, work: Work = work) -> None:
            await execute(job_id, work)

        dramatiq.actor(actor_name=name, queue_name=QUEUE, broker=broker)(run)
    return sorted(_works)


def enqueue(actor: str, job_id: int) -> None:
    """Send the job's message (blocking: call it in a thread from async code); UNAVAILABLE if Redis is down."""
    if _broker is None:
        raise RuntimeError("the job queue is not configured in this process")
    message: Message[Any] = Message(queue_name=QUEUE, actor_name=actor, args=(job_id,), kwargs={}, options={})
    try:
        _broker.enqueue(message)
    except (redis.ConnectionError, redis.TimeoutError) as error:
        log.warning("cannot send job %s to the queue: %s", job_id, error)
        raise UnavailableError("the job queue (Redis) is unreachable; the job was not started") from error


def close() -> None:
    global _broker
    if _broker is not None:
        _broker.close()
        _broker = None
