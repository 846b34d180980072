"""The Dramatiq broker on Redis: actors declared by name on their own queues, and sending a job's message.

Queues are per job kind (a host can take only some), so a long fine-tune never waits behind exports.
A message carries only the job id; one sent with a delay waits in Redis, not in a worker thread.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.message import Message
from dramatiq.middleware import Middleware

from tuneyard.core.config import Settings
from tuneyard.core.outages import REDIS, ServiceUnavailable, report
from tuneyard.core.redis import sync_client

# A dead worker's unacknowledged messages go back to the queue after this long; the job reaper has
# usually retried the job by then, and the claim in SQL makes the late copy a no-op.
BROKER_HEARTBEAT_MS = 60_000

_broker: RedisBroker | None = None


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


def declare_actor(broker: RedisBroker, name: str, queue: str, run: Callable[[int], Awaitable[None]]) -> None:
    """Declare the actor `name` on `queue`: each message runs `run(job_id)` (the worker consumes that queue)."""
    dramatiq.actor(actor_name=name, queue_name=queue, broker=broker)(run)


def enqueue(actor: str, queue: str, job_id: int, delay_seconds: float = 0.0) -> None:
    """Send the job's message, due after `delay_seconds` (blocking: call it in a thread from async code).

    UNAVAILABLE if Redis is down.
    """
    if _broker is None:
        raise RuntimeError("the job queue is not configured in this process")
    message: Message[Any] = Message(queue_name=queue, actor_name=actor, args=(job_id,), kwargs={}, options={})
    delay = round(delay_seconds * 1000) if delay_seconds > 0 else None
    try:
        _broker.enqueue(message, delay=delay)
    except (redis.ConnectionError, redis.TimeoutError) as error:
        report(REDIS, error)  # an outage is logged once, not once per job
        raise ServiceUnavailable(REDIS, "the job queue (Redis) is unreachable; the job was not started") from error


def close() -> None:
    global _broker
    if _broker is not None:
        _broker.close()
        _broker = None
