"""Checkpoints and deferred runs against real PostgreSQL and Redis, in-process: fenced, resumed, reaped right."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from tests.support.databases import create_database, drop_database
from tuneyard.core import queue as broker
from tuneyard.core.config import Settings
from tuneyard.core.db import create_pool
from tuneyard.core.redis import async_client
from tuneyard.jobs import progress, reaper
from tuneyard.jobs import repository as repo
from tuneyard.jobs import service as jobs
from tuneyard.jobs.models import Job, JobKind, JobModel, JobStatus, JobType
from tuneyard.jobs.run import RunEnv
from tuneyard.jobs.runner import execute
from tuneyard.jobs.service import ContinueLater, JobRun


class Poll(JobModel):
    polls: int


class Seen(JobModel):
    provider_job_id: int
    polls: int


POLL_JOB = JobType(JobKind.FINE_TUNE, actor="test.poll", queue="test-poll", input=Poll, result=Seen)
Run = JobRun[Poll, Seen]
REAPER = Settings(job_stale_seconds=0, job_max_attempts=3, job_requeue_seconds=60)


@pytest.fixture
async def namespace(redis_url: str) -> AsyncIterator[str]:
    name = f"tuneyard-cp-{uuid.uuid4().hex[:10]}"
    the_broker = broker.configure(Settings(queue_namespace=name), redis_url)
    client = async_client(redis_url)
    progress.configure(client, name)
    try:
        yield name
    finally:
        the_broker.flush_all()
        broker.close()
        await client.aclose()


@pytest.fixture(scope="module")
async def database_url(backing: tuple[str, str]) -> AsyncIterator[str]:
    """A database of this module's own: the session server's reaper must not move the jobs these tests reap."""
    url = await create_database(backing[0])
    yield url
    await drop_database(backing[0], url)


@pytest.fixture
async def pool(database_url: str, namespace: str) -> AsyncIterator[asyncpg.Pool]:
    created = await create_pool(database_url, max_size=4)
    try:
        yield created
    finally:
        await created.close()


class Sent:
    """RunEnv.send that only remembers what would have been sent."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, job: Job, delay: float) -> None:
        self.delays.append(delay)


def _env(pool: asyncpg.Pool, send: Sent | None = None) -> RunEnv:
    settings = Settings(job_heartbeat_seconds=0.2, job_progress_interval=0.05)
    return RunEnv(pool, settings, send=send)


async def _row(pool: asyncpg.Pool, job_id: int) -> Job:
    job = await repo.get(pool, job_id)
    assert job is not None
    return job


async def test_a_retry_resumes_from_the_checkpoint_and_a_lost_attempt_cannot_overwrite_it(pool: asyncpg.Pool) -> None:
    job = await jobs.create_and_enqueue(pool, POLL_JOB, Poll(polls=1))
    started: list[int] = []

    async def crashes_after_starting(run: Run) -> Seen:
        started.append(run.id)
        await run.save_checkpoint({"providerJobId": 41})
        # The worker stalls; the reaper gives the job to another attempt; a late write is refused.
        await pool.execute("UPDATE jobs SET heartbeat_at = now() - interval '1 hour' WHERE id = $1", run.id)
        assert [j.id for j in await reaper.recover(pool, REAPER)] == [run.id]
        await run.save_checkpoint({"providerJobId": 666})
        raise AssertionError("save_checkpoint raises JobLost once the claim is gone")

    async def resumes(run: Run) -> Seen:
        assert run.checkpoint is not None, "a retry receives the checkpoint"
        return Seen(provider_job_id=run.checkpoint["providerJobId"], polls=run.attempt)

    await execute(job.id, POLL_JOB, crashes_after_starting, _env(pool))
    lost = await _row(pool, job.id)
    assert (lost.status, lost.attempts, lost.checkpoint) == (JobStatus.QUEUED, 1, {"providerJobId": 41})
    await execute(job.id, POLL_JOB, resumes, _env(pool))
    done = await _row(pool, job.id)
    assert (done.status, done.attempts) == (JobStatus.SUCCEEDED, 2)
    assert done.result == {"providerJobId": 41, "polls": 2} and started == [job.id]


async def test_a_deferred_run_stays_running_without_a_worker_and_resumes_with_its_state(pool: asyncpg.Pool) -> None:
    job = await jobs.create_and_enqueue(pool, POLL_JOB, Poll(polls=3))
    sent, runs = Sent(), []

    async def poll(run: Run) -> Seen:
        runs.append(run.attempt)
        if run.checkpoint is None:
            await run.save_checkpoint({"providerJobId": 7})
        polls = (run.result.polls if run.result else 0) + 1
        run.result = Seen(provider_job_id=7, polls=polls)
        if polls < run.input.polls:
            await run.progress(polls / run.input.polls)
            raise ContinueLater(30, "waiting 30 s for the provider")
        return run.result

    await execute(job.id, POLL_JOB, poll, _env(pool, sent))
    waiting = await _row(pool, job.id)
    assert (waiting.status, waiting.attempts, waiting.message) == (
        JobStatus.RUNNING,
        1,
        "waiting 30 s for the provider",
    )
    assert waiting.resume_at is not None and waiting.result == {"providerJobId": 7, "polls": 1}
    assert waiting.progress == pytest.approx(1 / 3), "the last progress before waiting is kept"
    assert sent.delays == [30]
    assert await reaper.recover(pool, REAPER) == [], "a deferred job has no heartbeat to miss"
    await execute(job.id, POLL_JOB, poll, _env(pool, sent))
    assert runs == [1], "a message long before the job's time (a stale copy) does nothing"
    for _ in range(2):  # its time comes: the delayed message takes it up on the same attempt
        await pool.execute("UPDATE jobs SET resume_at = now() WHERE id = $1", job.id)
        await execute(job.id, POLL_JOB, poll, _env(pool, sent))
    done = await _row(pool, job.id)
    assert (done.status, done.attempts, done.resume_at, runs) == (JobStatus.SUCCEEDED, 1, None, [1, 1, 1])
    assert done.result == {"providerJobId": 7, "polls": 3} and sent.delays == [30, 30]
    events = [(e.status, e.message) for e in await repo.events(pool, job.id, 50)]
    assert events[-1] == (JobStatus.SUCCEEDED, "done")
    assert {status for status, _ in events[1:-1]} == {JobStatus.RUNNING}, "RUNNING throughout, waiting or not"


async def test_cancelling_a_deferred_job_brings_it_back_at_once_to_clean_up(pool: asyncpg.Pool) -> None:
    job = await jobs.create_and_enqueue(pool, POLL_JOB, Poll(polls=100))
    cleaned: list[Any] = []

    async def poll(run: Run) -> Seen:
        if run.checkpoint is None:
            await run.save_checkpoint({"providerJobId": 9})
            raise ContinueLater(600)
        try:
            await run.check_cancelled()
        except jobs.JobCancelled:
            cleaned.append(run.checkpoint["providerJobId"])  # cancel the provider's job too
            raise
        raise AssertionError("the job was cancelled")

    await execute(job.id, POLL_JOB, poll, _env(pool, Sent()))
    cancelling = await jobs.cancel(pool, job.id)
    assert cancelling.status is JobStatus.CANCELLING
    assert (await pool.fetchval("SELECT resume_at <= now() FROM jobs WHERE id = $1", job.id)) is True
    await execute(job.id, POLL_JOB, poll, _env(pool))
    assert (await _row(pool, job.id)).status is JobStatus.CANCELLED and cleaned == [9]


async def test_the_reaper_resends_an_overdue_deferred_job(pool: asyncpg.Pool, namespace: str, redis_url: str) -> None:
    job = await jobs.create_and_enqueue(pool, POLL_JOB, Poll(polls=2))

    async def wait(run: Run) -> Seen:
        raise ContinueLater(5)

    await execute(job.id, POLL_JOB, wait, _env(pool, Sent()))  # its delayed message is lost (never sent)
    client = async_client(redis_url)
    try:
        sent_before = await client.hlen(f"{namespace}:test-poll.msgs")
        assert await reaper.recover(pool, REAPER) == []  # not overdue yet
        await pool.execute("UPDATE jobs SET resume_at = now() - interval '61 seconds' WHERE id = $1", job.id)
        assert await reaper.recover(pool, REAPER) == [], "re-sent, not moved"
        await asyncio.sleep(0.05)
        assert await client.hlen(f"{namespace}:test-poll.msgs") == sent_before + 1
    finally:
        await client.aclose()
    again = await _row(pool, job.id)
    assert again.status is JobStatus.RUNNING and again.resume_at is not None
    assert await pool.fetchval("SELECT resume_at > now() - interval '5 seconds' FROM jobs WHERE id = $1", job.id)
    await jobs.cancel(pool, job.id)


async def test_a_cancelling_job_interrupted_by_a_stop_is_cleaned_up_by_the_next_worker(pool: asyncpg.Pool) -> None:
    job = await jobs.create_and_enqueue(pool, POLL_JOB, Poll(polls=1))
    sent, cleaned, cancelled = Sent(), [], asyncio.Event()

    async def slow_to_stop(run: Run) -> Seen:
        await run.save_checkpoint({"providerJobId": 5})
        await jobs.cancel(pool, run.id)
        cancelled.set()
        await asyncio.sleep(30)  # a part without stop points, interrupted when the grace period ends
        raise AssertionError("interrupted")

    async def cleans_up(run: Run) -> Seen:
        try:
            await run.check_cancelled()
        except jobs.JobCancelled:
            cleaned.append(run.checkpoint["providerJobId"])
            raise
        raise AssertionError("the job was cancelled")

    running = asyncio.create_task(execute(job.id, POLL_JOB, slow_to_stop, _env(pool, sent)))
    await cancelled.wait()
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    handed_back = await _row(pool, job.id)
    assert (handed_back.status, handed_back.attempts, sent.delays) == (JobStatus.CANCELLING, 1, [0.0])
    assert handed_back.resume_at is not None, "due at once, for a worker to run the clean-up"
    await execute(job.id, POLL_JOB, cleans_up, _env(pool))
    assert (await _row(pool, job.id)).status is JobStatus.CANCELLED and cleaned == [5]
