"""What a server process runs for jobs: the broker to send messages, the progress hub, and a reaper."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import asyncpg

from tuneyard.core import queue as broker
from tuneyard.core.config import Settings
from tuneyard.core.redis import async_client
from tuneyard.jobs import progress
from tuneyard.jobs.reaper import reap_forever


@contextlib.asynccontextmanager
async def serving_jobs(settings: Settings, pool: asyncpg.Pool, redis_url: str) -> AsyncIterator[progress.ProgressHub]:
    """Configure this process to start jobs and announce changes; yields the started ProgressHub.

    Workers reap too; the server does it as well so that a job never stays RUNNING when every worker is gone.
    """
    broker.configure(settings, redis_url)
    client = async_client(redis_url)
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
        await client.aclose()
        broker.close()
