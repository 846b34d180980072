"""Worker processes killed or stopped mid-run: the next attempt resumes from the checkpoint, never paying twice."""

from __future__ import annotations

import signal
from collections.abc import Callable

import asyncpg

from tests.workers.conftest import Worker, Yard, until
from tests.workers.provider import PROVIDER_JOB, ProviderInput
from tuneyard.jobs import repository as repo
from tuneyard.jobs import service as jobs
from tuneyard.jobs.models import Job, JobStatus

PROVIDER = ("--threads", "1", "--queues", "test-provider")


async def _first_poll(yard: Yard, job_id: int) -> asyncpg.Record:
    """The provider's job once it is started, checkpointed and being polled for the first time."""

    async def polled() -> asyncpg.Record | None:
        found = await yard.provider_jobs(job_id)
        return found[0] if found and len(found[0]["polled_by"]) == 1 else None

    return await until(polled, what="the first poll")


async def _two_workers_mid_poll(yard: Yard, workers: Callable[..., Worker], **env: str) -> tuple[Job, Worker, Worker]:
    """A provider job polled for the first time by one of two workers: (the job, that worker, the other one)."""
    pair = [workers(*PROVIDER, **env) for _ in range(2)]
    for worker in pair:
        worker.wait_ready()
    job = await jobs.create_and_enqueue(yard.pool, PROVIDER_JOB, ProviderInput(polls=3, first_poll_seconds=60))
    started = await _first_poll(yard, job.id)
    holder = next(w for w in pair if w.pid == started["polled_by"][0])
    return job, holder, next(w for w in pair if w is not holder)


async def _messages(yard: Yard, job_id: int) -> list[str | None]:
    return [e.message for e in await repo.events(yard.pool, job_id, 100)]


async def test_a_worker_killed_mid_run_never_starts_a_second_provider_job(
    yard: Yard, workers: Callable[..., Worker]
) -> None:
    job, holder, other = await _two_workers_mid_poll(yard, workers)
    holder.signal(signal.SIGKILL)
    # The other worker's reaper sees the heartbeat stop (2.5 s in tests) and queues the job again; the next
    # attempt finds the provider's job id in the checkpoint and polls that job instead of starting another.
    final = await yard.final(job.id)
    assert (final.status, final.attempts) == (JobStatus.SUCCEEDED, 2), final
    (provider_job,) = await yard.provider_jobs(job.id)  # exactly one provider job: paid once
    assert final.result == {"providerJobId": provider_job["id"], "polls": 3}
    assert provider_job["polled_by"] == [holder.pid, other.pid, other.pid]
    assert "worker lost on attempt 1; retrying" in await _messages(yard, job.id)


async def test_a_stopped_worker_hands_its_run_back_at_once_and_the_next_resumes_it(
    yard: Yard, workers: Callable[..., Worker]
) -> None:
    job, holder, other = await _two_workers_mid_poll(yard, workers, TUNEYARD_WORKER_STOP_GRACE_SECONDS="20")
    stopped_at = holder.signal(signal.SIGTERM)
    assert holder.exited_after(stopped_at) < 3, "handed back at its next stop point, not after the grace period"
    assert holder.process.returncode == 0
    final = await yard.final(job.id)
    assert (final.status, final.attempts) == (JobStatus.SUCCEEDED, 1), "the stop did not count as an attempt"
    (provider_job,) = await yard.provider_jobs(job.id)
    assert provider_job["polled_by"] == [holder.pid, other.pid, other.pid]
    assert final.result == {"providerJobId": provider_job["id"], "polls": 3}
    assert "worker stopped; waiting for another" in await _messages(yard, job.id)


async def test_a_part_that_cannot_be_handed_back_finishes_within_the_grace_period(
    yard: Yard, workers: Callable[..., Worker]
) -> None:
    patient = workers(*PROVIDER, TUNEYARD_WORKER_STOP_GRACE_SECONDS="15").wait_ready()
    job = await jobs.create_and_enqueue(yard.pool, PROVIDER_JOB, ProviderInput(polls=1, finish_seconds=1.5))

    async def finishing() -> bool:
        found = await yard.provider_jobs(job.id)
        return bool(found and found[0]["finishing"])

    await until(finishing, what="the final part")
    stopped_at = patient.signal(signal.SIGTERM)
    waited = patient.exited_after(stopped_at)
    final = await yard.job(job.id)
    assert (final.status, final.attempts) == (JobStatus.SUCCEEDED, 1), "the worker let it finish"
    assert 0.5 < waited < 10, waited

    # Past the grace period the run is interrupted and handed back, not counted, with its checkpoint.
    hasty = workers(*PROVIDER, TUNEYARD_WORKER_STOP_GRACE_SECONDS="1").wait_ready()
    job = await jobs.create_and_enqueue(yard.pool, PROVIDER_JOB, ProviderInput(polls=1, finish_seconds=60))
    await until(finishing, what="the final part")
    stopped_at = hasty.signal(signal.SIGTERM)
    assert hasty.exited_after(stopped_at) < 5
    back = await yard.job(job.id)
    assert (back.status, back.attempts, back.message) == (JobStatus.QUEUED, 0, "worker stopped; waiting for another")
    assert back.checkpoint == {"providerJobId": (await yard.provider_jobs(job.id))[0]["id"]}
    await jobs.cancel(yard.pool, job.id)
