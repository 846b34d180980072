"""Live job progress over Redis pub/sub: announcing "job X changed", and one listener per server process.

Whoever changes a job row (a worker, or a server cancelling) announces it on the channel
`<queue namespace>:job-changes` with {"id", "kind", "version"}. Each server process holds ONE
subscription to that channel (ProgressHub); for every notice that some local subscriber cares about it
reads the job once from PostgreSQL (the truth) and hands that one Change to each of them. Subscribers drop
snapshots no newer than the last one they delivered, so duplicates and reordering are harmless.

A Change also carries a memo: the first subscriber to render it for some query leaves the encoded result
there, so that the others asking the same query send those bytes instead of executing it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import asyncpg
import orjson
import redis
import redis.asyncio as aioredis

from tuneyard.core import outages
from tuneyard.core.errors import UnavailableError
from tuneyard.core.graphql.fanout import Shared
from tuneyard.core.redis import async_client
from tuneyard.jobs import repository as repo
from tuneyard.jobs.models import Job, JobKind

log = logging.getLogger(__name__)

LOST = "live job updates are unavailable: the connection to Redis was lost; reconnect to get the current state"
DOWN = "live job updates are unavailable: Redis cannot be reached"
UNREADABLE = "live job updates are unavailable: the database cannot be reached; reconnect to get the current state"
RECONNECT_SECONDS = 0.5


def channel_name(namespace: str) -> str:
    return f"{namespace}:job-changes"


_announcer: tuple[aioredis.Redis, str] | None = None


def configure(client: aioredis.Redis, namespace: str) -> None:
    """Where this process announces job changes (set by the server's lifespan and by each worker)."""
    global _announcer
    _announcer = (client, channel_name(namespace))


async def announce(job: Job) -> None:
    """Publish "this job changed"; best effort, since the row already holds the change."""
    if _announcer is None:
        log.warning("job %s changed but this process has no Redis to announce it on", job.id)
        return
    client, channel = _announcer
    note = orjson.dumps({"id": job.id, "kind": job.kind.value, "version": job.version})
    try:
        await client.publish(channel, note)
    except (redis.RedisError, OSError) as error:
        if outages.service_of(error) is None:
            log.warning("job %s changed but could not be announced: %s", job.id, error)
        else:  # an outage is logged once, not once per job change
            outages.report(outages.REDIS, error)


@dataclass(eq=False, slots=True)
class Change(Shared):
    """One job change as every local subscriber gets it: the same snapshot, read once from the database.

    As a `Shared`, it also carries the renderings subscribers with the same query can reuse.
    """

    job: Job = field(kw_only=True)


@dataclass(eq=False)
class Watch:
    """One subscriber's inbox: job changes in arrival order, or the error that ended the stream."""

    job_id: int | None
    kinds: frozenset[JobKind] | None
    _inbox: asyncio.Queue[Change | UnavailableError] = field(default_factory=asyncio.Queue)

    def wants(self, kind: JobKind) -> bool:
        return self.kinds is None or kind in self.kinds

    def push(self, item: Change | UnavailableError) -> None:
        self._inbox.put_nowait(item)

    async def next(self) -> Change:
        item = await self._inbox.get()
        if isinstance(item, UnavailableError):
            raise item
        return item


class ProgressHub:
    """The server process's single pub/sub subscription, fanned out to its WebSocket subscribers."""

    def __init__(self, pool: asyncpg.Pool, redis_url: str, channel: str) -> None:
        self._pool = pool
        self._redis_url = redis_url
        self._channel = channel
        self._by_job: dict[int, set[Watch]] = {}
        self._all: set[Watch] = set()
        self._connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def start(self, wait: float = 2.0) -> None:
        """Start listening; waits a little for the first connection, but serves without Redis too."""
        self._task = asyncio.create_task(self._listen(), name="job-progress-listener")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._connected.wait(), wait)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._fail_all(UnavailableError("the server is shutting down"))

    @contextlib.asynccontextmanager
    async def watch(self, job_id: int | None = None, kinds: frozenset[JobKind] | None = None) -> AsyncIterator[Watch]:
        """Register a subscriber (before the caller reads the current state, so no change slips by)."""
        if not self.connected:
            raise outages.ServiceUnavailable(outages.REDIS, DOWN)
        watch = Watch(job_id, kinds)
        group = self._all if job_id is None else self._by_job.setdefault(job_id, set())
        group.add(watch)
        try:
            yield watch
        finally:
            group.discard(watch)
            if job_id is not None and not group:
                self._by_job.pop(job_id, None)

    async def _listen(self) -> None:
        while True:
            # No silent reconnects: after a gap, subscribers must be told that they may have missed changes.
            client = async_client(self._redis_url, retries=0)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._channel)
                if not self.connected:
                    log.info("listening for job changes on %s", self._channel)
                    outages.recovered(outages.REDIS)
                self._connected.set()
                while True:
                    message = await pubsub.get_message(timeout=5.0)
                    if message is None:
                        await pubsub.ping()  # an idle connection must still notice a dead server
                    elif message["type"] == "message":
                        await self._dispatch(message["data"])
            except (redis.RedisError, OSError) as error:
                outages.report(outages.REDIS, error)  # one line per outage, however often this loop retries
                if self.connected:
                    self._connected.clear()
                    # Subscribers may have missed changes from now on: their streams end with UNAVAILABLE.
                    self._fail_all(outages.ServiceUnavailable(outages.REDIS, LOST))
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                    await client.aclose()
            await asyncio.sleep(RECONNECT_SECONDS)

    async def _dispatch(self, data: bytes) -> None:
        try:
            note = orjson.loads(data)
            job_id, kind = int(note["id"]), JobKind(note["kind"])
        except (ValueError, KeyError, TypeError) as error:
            log.warning("ignoring a malformed job-change notice %r: %s", data[:200], error)
            return
        if job_id not in self._by_job and not any(w.wants(kind) for w in self._all):
            return
        try:
            job = await repo.get(self._pool, job_id)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, UnavailableError) as error:
            if outages.unavailable(error) is None:
                log.warning("cannot read job %s to send its change: %s", job_id, error)
                return
            # This change is lost to whoever wanted it: their streams end, and a new one starts from the row.
            lost = outages.ServiceUnavailable(outages.DATABASE, UNREADABLE)
            for watch in [*self._by_job.get(job_id, ()), *(w for w in self._all if w.wants(kind))]:
                watch.push(lost)
            return
        if job is None:
            return
        # Whoever subscribed while the row was being read gets it too: they drop it unless it is newer
        # than their own first read.
        change = Change(job=job)
        for watch in self._by_job.get(job_id, ()):
            watch.push(change)
        for watch in self._all:
            if watch.wants(job.kind):
                watch.push(change)

    def _fail_all(self, error: UnavailableError) -> None:
        for watch in [*self._all, *(w for group in self._by_job.values() for w in group)]:
            watch.push(error)
