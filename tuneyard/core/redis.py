"""The one way Tuneyard connects to Redis: clients that fail fast, so callers can report Redis as down."""

from __future__ import annotations

import redis
import redis.asyncio as aioredis
from redis.backoff import NoBackoff
from redis.retry import Retry

CONNECT_TIMEOUT = 2.0  # seconds
SOCKET_TIMEOUT = 5.0


def sync_client(url: str, retries: int = 1) -> redis.Redis:
    """A blocking client (the Dramatiq broker's), retrying at most `retries` times without backoff."""
    return redis.Redis.from_url(
        url, socket_connect_timeout=CONNECT_TIMEOUT, socket_timeout=SOCKET_TIMEOUT,
        retry=Retry(NoBackoff(), retries), health_check_interval=30,
    )  # fmt: skip


def async_client(url: str, retries: int = 1) -> aioredis.Redis:
    """An asyncio client, likewise; a pub/sub listener passes retries=0 so that it sees every gap."""
    return aioredis.Redis.from_url(
        url, socket_connect_timeout=CONNECT_TIMEOUT, socket_timeout=SOCKET_TIMEOUT,
        retry=Retry(NoBackoff(), retries), socket_keepalive=True,
    )  # fmt: skip
