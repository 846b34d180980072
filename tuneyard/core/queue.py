"""The Dramatiq broker (Redis, or RabbitMQ): actors declared by name on their own queues, and sending a job's message.

Queues are per job kind (a host can take only some), so a long fine-tune never waits behind exports.
A message carries only the job id; one sent with a delay waits in the broker, not in a worker thread.

TUNEYARD_BROKER_URL chooses the broker: unset, the Redis of TUNEYARD_REDIS_URL (its keys under the queue
namespace); `amqp://` or `amqps://`, RabbitMQ, whose queue names then start with the namespace; `redis://` or
`rediss://`, a Redis of its own for the queue. Live progress always goes over TUNEYARD_REDIS_URL.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

import dramatiq
import redis
from dramatiq.broker import Broker
from dramatiq.message import Message
from dramatiq.middleware import Middleware

from tuneyard.core.brokers import RABBITMQ_ERRORS, PromptRabbitmqBroker, WakingRedisBroker
from tuneyard.core.config import Settings
from tuneyard.core.errors import UnavailableError
from tuneyard.core.outages import REDIS, ServiceUnavailable, report
from tuneyard.core.redis import sync_client

# A dead worker's unacknowledged messages go back to the queue after this long; the job reaper has
# usually retried the job by then, and the claim in SQL makes the late copy a no-op.
BROKER_HEARTBEAT_MS = 60_000
RABBITMQ_SCHEMES = ("amqp", "amqps")
REDIS_SCHEMES = ("redis", "rediss")
# Dramatiq's rule for queue names (and RabbitMQ's length limit, leaving room for the job queue's name).
_RABBITMQ_NAMESPACE = re.compile(r"[A-Za-z_][A-Za-z0-9._-]{0,99}")

_broker: Broker | None = None
_queue_prefix = ""  # RabbitMQ: "<namespace>."; Redis keeps the namespace in its keys instead


class RabbitmqUnavailable(UnavailableError):
    """RabbitMQ (the job queue) cannot be reached; sending again later may succeed."""

    retryable = True


def broker_kind(settings: Settings) -> str:
    """The broker TUNEYARD_BROKER_URL chooses, "redis" or "rabbitmq"; ValueError naming the setting if neither."""
    if not settings.broker_url:
        return "redis"
    scheme = urlsplit(settings.broker_url).scheme.lower()
    if scheme in RABBITMQ_SCHEMES:
        if not _RABBITMQ_NAMESPACE.fullmatch(settings.queue_namespace):
            raise ValueError(
                "TUNEYARD_QUEUE_NAMESPACE: with RabbitMQ it starts RabbitMQ queue names, so it must be 1 to 100 "
                f"letters, digits, '.', '_' or '-', starting with a letter or '_'; got {settings.queue_namespace!r}"
            )
        return "rabbitmq"
    if scheme in REDIS_SCHEMES:
        return "redis"
    raise ValueError(
        "TUNEYARD_BROKER_URL: must be an amqp://, amqps://, redis:// or rediss:// URL (or unset: the Redis of "
        f"TUNEYARD_REDIS_URL); got {scheme + '://...' if '://' in settings.broker_url else 'no scheme'}"
    )


def describe(settings: Settings) -> str:
    """The broker in words for a log line, without credentials."""
    kind = broker_kind(settings)
    if not settings.broker_url:
        return "Redis (TUNEYARD_REDIS_URL)"
    parts = urlsplit(settings.broker_url)
    name = "RabbitMQ" if kind == "rabbitmq" else "Redis"
    return f"{name} at {parts.hostname or 'localhost'}:{parts.port or 'its default port'}"


def configure(settings: Settings, redis_url: str, middleware: Sequence[Middleware] = ()) -> Broker:
    """Make the process's broker (TUNEYARD_BROKER_URL's, else Redis at `redis_url`) with only the middleware given."""
    global _broker, _queue_prefix
    if broker_kind(settings) == "rabbitmq":
        # Confirmed sends: a send on a connection RabbitMQ has dropped fails (and is retried) instead of vanishing.
        broker: Broker = PromptRabbitmqBroker(
            url=settings.broker_url, confirm_delivery=True, middleware=list(middleware)
        )
        _queue_prefix = f"{settings.queue_namespace}."
    else:
        broker = WakingRedisBroker(
            client=sync_client(settings.broker_url or redis_url),
            namespace=settings.queue_namespace,
            heartbeat_timeout=BROKER_HEARTBEAT_MS,
            middleware=list(middleware),
        )
        _queue_prefix = ""
    dramatiq.set_broker(broker)
    _broker = broker
    return broker


def broker_queue(queue: str) -> str:
    """The broker's name for a job queue (RabbitMQ's carry the namespace)."""
    return _queue_prefix + queue


def declare_actor(broker: Broker, name: str, queue: str, run: Callable[[int], Awaitable[None]]) -> None:
    """Declare the actor `name` on `queue`: each message runs `run(job_id)` (the worker consumes that queue)."""
    dramatiq.actor(actor_name=name, queue_name=broker_queue(queue), broker=broker)(run)


def enqueue(actor: str, queue: str, job_id: int, delay_seconds: float = 0.0) -> None:
    """Send the job's message, due after `delay_seconds` (blocking: call it in a thread from async code).

    UNAVAILABLE if the broker is down.
    """
    if _broker is None:
        raise RuntimeError("the job queue is not configured in this process")
    message: Message[Any] = Message(
        queue_name=broker_queue(queue), actor_name=actor, args=(job_id,), kwargs={}, options={}
    )
    delay = round(delay_seconds * 1000) if delay_seconds > 0 else None
    try:
        _broker.enqueue(message, delay=delay)
    except (redis.ConnectionError, redis.TimeoutError) as error:
        report(REDIS, error)  # an outage is logged once, not once per job
        raise ServiceUnavailable(REDIS, "the job queue (Redis) is unreachable; the job was not started") from error
    except RABBITMQ_ERRORS as error:
        raise RabbitmqUnavailable("the job queue (RabbitMQ) is unreachable; the job was not started") from error


def close() -> None:
    global _broker
    if _broker is not None:
        _broker.close()
        _broker = None
