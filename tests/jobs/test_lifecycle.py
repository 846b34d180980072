"""The job service against real PostgreSQL and Redis, in-process: guarded moves, claims, reaper, Redis down."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from tests.support import free_port
from tuneyard.core import queue as broker
from tuneyard.core.config import Settings
from tuneyard.core.db import create_pool
from tuneyard.core.errors import ConflictError, NotFoundError, UnavailableError
from tuneyard.core.redis import async_client
from tuneyard.jobs import progress
from tuneyard.jobs import repository as repo
from tuneyard.jobs import service as jobs
from tuneyard.jobs.models import JobKind, JobStatus
from tuneyard.jobs.service import JobRun, RunEnv

ACTOR = "test.nothing"  # no worker consumes this test's namespace: messages only need to be sent


@pytest.fixture
async def pool(database_url: str, redis_url: str) -> AsyncIterator[asyncpg.Pool]:
    settings = Settings(queue_namespace=f"tuneyard-it-{uuid.uuid4().hex[:10]}")
    the_broker = broker.configure(settings, redis_url)
    client = async_client(redis_url)
    progress.configure(client, settings.queue_namespace)
    created = await create_pool(database_url, max_size=4)
    try:
        yield created
    finally:
        the_broker.flush(broker.QUEUE)
        broker.close()
        await client.aclose()
        await created.close()


def _env(pool: asyncpg.Pool, **overrides: Any) -> RunEnv:
    return RunEnv(pool=pool, heartbeat_seconds=0.2, progress_interval=0.05, **overrides)


async def test_moves_are_guarded_so_late_messages_change_nothing(pool: asyncpg.Pool) -> None:
    job = await jobs.create_and_enqueue(pool, JobKind.MAINTENANCE, {"n": 1}, actor=ACTOR, created_by="test")
    assert (job.status, job.version, job.attempts) == (JobStatus.QUEUED, 1, 0)
    claimed = await repo.claim(pool, job.id)
    assert claimed is not None and claimed.status is JobStatus.RUNNING and claimed.attempts == 1
    assert await repo.claim(pool, job.id) is None, "a second delivery cannot claim it again"
    done = await repo.finish(pool, job.id, 1, JobStatus.SUCCEEDED, "done", {"ok": True}, None)
    assert done is not None and done.progress == 1.0
    assert await repo.set_progress(pool, job.id, 1, 0.5, "late") is None
    assert await repo.finish(pool, job.id, 1, JobStatus.FAILED, "failed", None, "late") is None
    assert await repo.cancel(pool, job.id) is None
    with pytest.raises(ConflictError, match="already SUCCEEDED"):
        await jobs.cancel(pool, str(job.id))
    with pytest.raises(NotFoundError):
        await jobs.cancel(pool, "123456789")
    events = await repo.events(pool, job.id, 50)
    assert [(e.seq, e.status) for e in events] == [
        (1, JobStatus.QUEUED),
        (2, JobStatus.RUNNING),
        (3, JobStatus.SUCCEEDED),
    ]


async def test_cancelling_a_queued_job_ends_it_at_once(pool: asyncpg.Pool) -> None:
    job = await jobs.create_and_enqueue(pool, JobKind.MAINTENANCE, {}, actor=ACTOR)
    cancelled = await jobs.cancel(pool, job.id)
    assert cancelled.status is JobStatus.CANCELLED and cancelled.finished_at is not None
    assert await repo.claim(pool, job.id) is None, "its message arriving later does nothing"


async def test_a_message_delivered_twice_does_the_work_once(pool: asyncpg.Pool) -> None:
    job = await jobs.create_and_enqueue(pool, JobKind.MAINTENANCE, {}, actor=ACTOR)
    runs: list[int] = []

    async def work(run: JobRun) -> dict[str, int]:
        runs.append(run.attempt)
        for step in range(5):
            await run.checkpoint()
            await run.progress((step + 1) / 5)
            await asyncio.sleep(0.02)
        return {"steps": 5}

    await asyncio.gather(jobs.execute(job.id, work, _env(pool)), jobs.execute(job.id, work, _env(pool)))
    await jobs.execute(job.id, work, _env(pool))  # and once more, late
    assert runs == [1]
    final = await repo.get(pool, job.id)
    assert final is not None and final.status is JobStatus.SUCCEEDED and final.result == {"steps": 5}


async def test_reaper_retries_a_lost_job_then_fails_it_with_the_reason(pool: asyncpg.Pool) -> None:
    job = await jobs.create_and_enqueue(pool, JobKind.MAINTENANCE, {}, actor=ACTOR)

    async def lose_heartbeat() -> None:
        await pool.execute("UPDATE jobs SET heartbeat_at = now() - interval '1 minute' WHERE id = $1", job.id)

    assert await repo.claim(pool, job.id) is not None
    await lose_heartbeat()
    moved = await jobs.recover(pool, stale_seconds=30, max_attempts=2, requeue_seconds=600)
    assert [(j.id, j.status, j.attempts) for j in moved] == [(job.id, JobStatus.QUEUED, 1)]
    assert await repo.set_progress(pool, job.id, 1, 0.5, None) is None, "the lost attempt is fenced off"
    again = await repo.claim(pool, job.id)
    assert again is not None and again.attempts == 2
    assert await jobs.recover(pool, stale_seconds=30, max_attempts=2, requeue_seconds=600) == []  # beating
    await lose_heartbeat()
    (failed,) = await jobs.recover(pool, stale_seconds=30, max_attempts=2, requeue_seconds=600)
    assert failed.status is JobStatus.FAILED and failed.finished_at is not None
    assert failed.error is not None and "worker lost" in failed.error and "attempt 2 of 2" in failed.error


async def test_a_stopping_worker_hands_its_job_back(pool: asyncpg.Pool) -> None:
    job = await jobs.create_and_enqueue(pool, JobKind.MAINTENANCE, {}, actor=ACTOR)
    resent: list[int] = []
    stopping = asyncio.Event()

    async def resend(released: Any) -> None:
        resent.append(released.id)

    async def work(run: JobRun) -> None:
        await run.progress(0.3, "a third")
        stopping.set()
        await run.checkpoint()

    await jobs.execute(job.id, work, _env(pool, stopping=stopping.is_set, resend=resend))
    back = await repo.get(pool, job.id)
    assert back is not None and (back.status, back.attempts) == (JobStatus.QUEUED, 0)
    assert resent == [job.id]


async def test_cancel_reaches_the_work_at_its_checkpoint(pool: asyncpg.Pool) -> None:
    job = await jobs.create_and_enqueue(pool, JobKind.MAINTENANCE, {}, actor=ACTOR)
    cleaned: list[bool] = []

    async def work(run: JobRun) -> None:
        try:
            for step in range(200):
                await run.checkpoint()
                run.result = {"steps": step}
                if step == 3:
                    await jobs.cancel(pool, run.id)
                await asyncio.sleep(0.01)
        except jobs.JobCancelled:
            cleaned.append(True)
            raise

    await jobs.execute(job.id, work, _env(pool))
    final = await repo.get(pool, job.id)
    assert final is not None and final.status is JobStatus.CANCELLED and cleaned == [True]
    assert 3 <= final.result["steps"] < 200


async def test_failures_are_recorded_and_unexpected_ones_masked(pool: asyncpg.Pool) -> None:
    expected = await jobs.create_and_enqueue(pool, JobKind.MAINTENANCE, {}, actor=ACTOR)
    unexpected = await jobs.create_and_enqueue(pool, JobKind.MAINTENANCE, {}, actor=ACTOR)

    async def refuse(run: JobRun) -> None:
        raise jobs.JobFailed("line 3: messages must alternate")

    async def crash(run: JobRun) -> None:
        raise KeyError("secret-internal-detail")

    await jobs.execute(expected.id, refuse, _env(pool))
    await jobs.execute(unexpected.id, crash, _env(pool))
    first, second = await repo.get(pool, expected.id), await repo.get(pool, unexpected.id)
    assert first is not None and first.status is JobStatus.FAILED and first.error == "line 3: messages must alternate"
    assert second is not None and second.status is JobStatus.FAILED
    assert second.error is not None and "KeyError" in second.error and "secret" not in second.error


async def test_redis_down_means_unavailable_and_no_orphan_row(pool: asyncpg.Pool, redis_url: str) -> None:
    before = await repo.count(pool, [], [])
    broker.configure(Settings(queue_namespace="nowhere"), f"redis://127.0.0.1:{free_port()}/0")
    with pytest.raises(UnavailableError, match="Redis"):
        await jobs.create_and_enqueue(pool, JobKind.MAINTENANCE, {}, actor=ACTOR)
    assert await repo.count(pool, [], []) == before
