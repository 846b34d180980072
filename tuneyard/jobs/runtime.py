"""What a server process runs for jobs: the broker to send messages, the progress hub, and a reaper."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator

import asyncpg
import redis.asyncio as aioredis

from tuneyard.core import outages
from tuneyard.core import queue as broker
from tuneyard.core.config import Settings
from tuneyard.core.redis import async_client
from tuneyard.jobs import progress
from tuneyard.jobs.reaper import reap_forever


@contextlib.asynccontextmanager
async def serving_jobs(settings: Settings, pool: asyncpg.Pool, redis_url: str) -> AsyncIterator[progress.ProgressHub]:
    """Configure this process to start jobs and announce changes; yields the started ProgressHub.

    Workers reap too; the server does it as well so that a job never stays RUNNING when every worker is gone.
    After an outage, the pool and the Redis clients reconnect by themselves; the probes registered here only say
    when (one log line each).
    """
    broker.configure(settings, redis_url)
    client = async_client(redis_url)
    watch_outages(pool, client)
    progress.configure(client, settings.queue_namespace)
    hub = progress.ProgressHub(pool, redis_url, progress.channel_name(settings.queue_namespace))
    await hub.start()
    reaper = asyncio.create_task(reap_forever(pool, settings))
    try:
        yield hub
    finally:
        reaper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reaper
        await hub.stop()
        watch_outages(None, None)
        await client.aclose()
        broker.close()


def watch_outages(pool: asyncpg.Pool | None, client: aioredis.Redis | None) -> None:
    """Tell tuneyard.core.outages how this process asks the database and Redis whether they are back (None: stop)."""
    outages.watch(outages.DATABASE, None if pool is None else functools.partial(pool.fetchval, "SELECT 1", timeout=2))
    outages.watch(outages.REDIS, None if client is None else client.ping)
