"""The job service against real PostgreSQL and Redis, in-process: guarded moves, claims, reaper, Redis down."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from tests.support import free_port
from tests.support.databases import create_database, drop_database
from tuneyard.core import queue as broker
from tuneyard.core.config import Settings
from tuneyard.core.db import create_pool
from tuneyard.core.errors import ConflictError, NotFoundError, UnavailableError
from tuneyard.core.redis import async_client
from tuneyard.jobs import progress, reaper
from tuneyard.jobs import repository as repo
from tuneyard.jobs import service as jobs
from tuneyard.jobs.models import JobKind, JobModel, JobStatus, JobType
from tuneyard.jobs.run import RunEnv
from tuneyard.jobs.runner import execute
from tuneyard.jobs.service import JobRun


class Nothing(JobModel):
    pass


class Steps(JobModel):
    steps: int


# No worker consumes this test's namespace: messages only need to be sent.
TEST_JOB = JobType(JobKind.MAINTENANCE, actor="test.nothing", queue="test", input=Nothing, result=Steps)
Run = JobRun[Nothing, Steps]


@pytest.fixture(scope="module")
async def database_url(backing: tuple[str, str]) -> AsyncIterator[str]:
    """A database of this module's own: the session server's reaper must not move the jobs these tests reap."""
    url = await create_database(backing[0])
    yield url
    await drop_database(backing[0], url)


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
        the_broker.flush_all()
        broker.close()
        await client.aclose()
        await created.close()


def _env(pool: asyncpg.Pool, **overrides: Any) -> RunEnv:
    return RunEnv(pool, Settings(job_heartbeat_seconds=0.2, job_progress_interval=0.05), **overrides)


def _reaper(max_attempts: int = 2) -> Settings:
    return Settings(job_stale_seconds=30, job_max_attempts=max_attempts, job_requeue_seconds=600)


async def _start(pool: asyncpg.Pool) -> Any:
    return await jobs.create_and_enqueue(pool, TEST_JOB, Nothing(), created_by="test")


async def test_moves_are_guarded_so_late_messages_change_nothing(pool: asyncpg.Pool) -> None:
    job = await _start(pool)
    assert (job.status, job.version, job.attempts, job.queue) == (JobStatus.QUEUED, 1, 0, "test")
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
    job = await _start(pool)
    cancelled = await jobs.cancel(pool, job.id)
    assert cancelled.status is JobStatus.CANCELLED and cancelled.finished_at is not None
    assert await repo.claim(pool, job.id) is None, "its message arriving later does nothing"


async def test_a_message_delivered_twice_does_the_work_once(pool: asyncpg.Pool) -> None:
    job = await _start(pool)
    runs: list[int] = []

    async def work(run: Run) -> Steps:
        runs.append(run.attempt)
        for step in range(5):
            await run.check_cancelled()
            await run.progress((step + 1) / 5)
            await asyncio.sleep(0.02)
        return Steps(steps=5)

    await asyncio.gather(execute(job.id, TEST_JOB, work, _env(pool)), execute(job.id, TEST_JOB, work, _env(pool)))
    await execute(job.id, TEST_JOB, work, _env(pool))  # and once more, late
    assert runs == [1]
    final = await repo.get(pool, job.id)
    assert final is not None and final.status is JobStatus.SUCCEEDED and final.result == {"steps": 5}


async def test_reaper_retries_a_lost_job_then_fails_it_with_the_reason(pool: asyncpg.Pool) -> None:
    job = await _start(pool)

    async def lose_heartbeat() -> None:
        await pool.execute("UPDATE jobs SET heartbeat_at = now() - interval '1 minute' WHERE id = $1", job.id)

    assert await repo.claim(pool, job.id) is not None
    await lose_heartbeat()
    moved = await reaper.recover(pool, _reaper())
    assert [(j.id, j.status, j.attempts) for j in moved] == [(job.id, JobStatus.QUEUED, 1)]
    assert await repo.set_progress(pool, job.id, 1, 0.5, None) is None, "the lost attempt is fenced off"
    again = await repo.claim(pool, job.id)
    assert again is not None and again.attempts == 2
    assert await reaper.recover(pool, _reaper()) == []  # beating
    await lose_heartbeat()
    (failed,) = await reaper.recover(pool, _reaper())
    assert failed.status is JobStatus.FAILED and failed.finished_at is not None
    assert failed.error is not None and "worker lost" in failed.error and "attempt 2 of 2" in failed.error


async def test_a_cancelling_job_whose_worker_died_gets_its_clean_up_run_by_another(pool: asyncpg.Pool) -> None:
    """A lost CANCELLING job (a provider's job may still run and bill) is due again at once, on a new attempt,
    so that a worker runs the work's clean-up; only after the last attempt does the reaper end it unclean."""
    job = await _start(pool)
    assert await repo.claim(pool, job.id) is not None
    await jobs.cancel(pool, job.id)
    await pool.execute("UPDATE jobs SET heartbeat_at = now() - interval '1 minute' WHERE id = $1", job.id)
    (moved,) = await reaper.recover(pool, _reaper())
    assert (moved.status, moved.attempts) == (JobStatus.CANCELLING, 2)
    assert moved.resume_at is not None and moved.message == "cancelling: its worker was lost; cleaning up"
    assert await repo.set_progress(pool, job.id, 1, 0.5, None) is None, "the lost attempt is fenced off"
    cleaned: list[int] = []

    async def work(run: Run) -> Steps:
        try:
            await run.check_cancelled()
        except jobs.JobCancelled:
            cleaned.append(run.attempt)
            raise
        raise AssertionError("a CANCELLING job stops at its first stop point")

    await execute(job.id, TEST_JOB, work, _env(pool))
    final = await repo.get(pool, job.id)
    assert cleaned == [2] and final is not None and final.status is JobStatus.CANCELLED

    # Out of attempts, the reaper ends a lost CANCELLING job itself, saying its clean-up may not have run.
    last = await _start(pool)
    assert await repo.claim(pool, last.id) is not None
    await jobs.cancel(pool, last.id)
    await pool.execute("UPDATE jobs SET heartbeat_at = now() - interval '1 minute' WHERE id = $1", last.id)
    (ended,) = await reaper.recover(pool, _reaper(max_attempts=1))
    assert ended.status is JobStatus.CANCELLED and ended.resume_at is None
    assert ended.message == "cancelled (its worker was lost; its clean-up may not have run)"


async def test_a_stopping_worker_hands_its_job_back_with_its_checkpoint_and_no_attempt_counted(
    pool: asyncpg.Pool,
) -> None:
    job = await _start(pool)
    resent: list[tuple[int, float]] = []
    stopping = asyncio.Event()

    async def resend(released: Any, delay: float) -> None:
        resent.append((released.id, delay))

    async def work(run: Run) -> Steps:
        await run.save_checkpoint({"step": 3})
        stopping.set()
        with run.not_resumable():
            await run.check_cancelled()  # a part that cannot be handed back goes on
        await run.check_cancelled()
        raise AssertionError("a stopping worker's run stops at its next stop point")

    await execute(job.id, TEST_JOB, work, _env(pool, stopping=stopping.is_set, send=resend))
    back = await repo.get(pool, job.id)
    assert back is not None and (back.status, back.attempts, back.checkpoint) == (JobStatus.QUEUED, 0, {"step": 3})
    assert back.message == "worker stopped; waiting for another" and resent == [(job.id, 0.0)]
    seen: list[Any] = []

    async def resume(run: Run) -> Steps:
        seen.append(run.checkpoint)
        return Steps(steps=run.checkpoint["step"])

    await execute(job.id, TEST_JOB, resume, _env(pool))
    done = await repo.get(pool, job.id)
    assert done is not None and (done.status, done.attempts, done.result) == (JobStatus.SUCCEEDED, 1, {"steps": 3})
    assert seen == [{"step": 3}]


async def test_cancel_reaches_the_work_at_its_next_stop_point(pool: asyncpg.Pool) -> None:
    job = await _start(pool)
    cleaned: list[bool] = []

    async def work(run: Run) -> Steps:
        try:
            for step in range(200):
                await run.check_cancelled()
                run.result = Steps(steps=step)
                if step == 3:
                    await jobs.cancel(pool, run.id)
                await asyncio.sleep(0.01)
        except jobs.JobCancelled:
            cleaned.append(True)
            raise
        return Steps(steps=200)

    await execute(job.id, TEST_JOB, work, _env(pool))
    final = await repo.get(pool, job.id)
    assert final is not None and final.status is JobStatus.CANCELLED and cleaned == [True]
    assert 3 <= final.result["steps"] < 200


async def test_failures_are_recorded_and_unexpected_ones_masked(pool: asyncpg.Pool) -> None:
    expected = await _start(pool)
    unexpected = await _start(pool)

    async def refuse(run: Run) -> Steps:
        raise jobs.JobFailed("line 3: messages must alternate")

    async def crash(run: Run) -> Steps:
        raise KeyError("secret-internal-detail")

    await execute(expected.id, TEST_JOB, refuse, _env(pool))
    await execute(unexpected.id, TEST_JOB, crash, _env(pool))
    first, second = await repo.get(pool, expected.id), await repo.get(pool, unexpected.id)
    assert first is not None and first.status is JobStatus.FAILED and first.error == "line 3: messages must alternate"
    assert second is not None and second.status is JobStatus.FAILED
    assert second.error is not None and "KeyError" in second.error and "secret" not in second.error


async def test_redis_down_means_unavailable_and_no_orphan_row(pool: asyncpg.Pool, redis_url: str) -> None:
    before = await repo.count(pool, [], [])
    broker.configure(Settings(queue_namespace="nowhere"), f"redis://127.0.0.1:{free_port()}/0")
    with pytest.raises(UnavailableError, match="Redis"):
        await _start(pool)
    assert await repo.count(pool, [], []) == before
