"""A fake paid provider job as a job kind, registered only in tests (workers import it by TUNEYARD_WORKER_TASK_MODULES).

"Starting the provider's job" inserts a row into provider_jobs (the bill): a second row for one job is a second
payment. The job's id is saved as the checkpoint before anything else; the job is then polled with delayed
messages until the provider has been asked `polls` times, and finishes with a part that cannot be handed back.
"""

from __future__ import annotations

import asyncio
import os
import time

from tuneyard.jobs.models import JobKind, JobModel, JobType
from tuneyard.jobs.service import ContinueLater, JobCancelled, JobRun, job_task

PROVIDER_TABLE = """
CREATE TABLE provider_jobs (
    id         serial PRIMARY KEY,
    job_id     bigint NOT NULL,
    polled_at  timestamptz[] NOT NULL DEFAULT '{}',
    polled_by  integer[] NOT NULL DEFAULT '{}',  -- the worker process of each poll
    finishing  boolean NOT NULL DEFAULT false,
    cancelled  boolean NOT NULL DEFAULT false
)"""


class ProviderInput(JobModel):
    polls: int  # the provider's job is done when it has been polled this often
    interval: float = 0.2  # seconds between polls, each one a delayed message
    first_poll_seconds: float = 0.0  # the first poll holds its thread this long (stop points every 50 ms)
    finish_seconds: float = 0.0  # the final part, which cannot be handed back, takes this long


class ProviderResult(JobModel):
    provider_job_id: int
    polls: int


class ProviderState(JobModel):
    provider_job_id: int


PROVIDER_JOB = JobType(
    JobKind.FINE_TUNE, actor="test.provider", queue="test-provider", input=ProviderInput, result=ProviderResult
)
# The same job on the fine-tune queue: what a GPU host (`--queues finetune`) takes and other workers may leave.
FINE_TUNE_QUEUE_JOB = JobType(
    JobKind.FINE_TUNE, actor="test.provider_finetune", queue="finetune", input=ProviderInput, result=ProviderResult
)


async def _hold(run: JobRun[ProviderInput, ProviderResult], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        await run.check_cancelled()
        await asyncio.sleep(0.05)


@job_task(PROVIDER_JOB)
async def run_provider_job(run: JobRun[ProviderInput, ProviderResult]) -> ProviderResult:
    """Start the provider's job once (checkpointed), then poll it every `interval` seconds until it is done."""
    if run.checkpoint is None:
        started = await run.pool.fetchval("INSERT INTO provider_jobs (job_id) VALUES ($1) RETURNING id", run.id)
        await run.save_checkpoint(ProviderState(provider_job_id=started))
    state = ProviderState.model_validate(run.checkpoint)
    try:
        polls = await run.pool.fetchval(
            """UPDATE provider_jobs SET polled_at = polled_at || clock_timestamp(), polled_by = polled_by || $2::int
               WHERE id = $1 RETURNING cardinality(polled_at)""",
            state.provider_job_id, os.getpid(),
        )  # fmt: skip
        if polls == 1:
            await _hold(run, run.input.first_poll_seconds)
        if polls < run.input.polls:
            await run.progress(polls / run.input.polls, f"the provider was polled {polls} times")
            raise ContinueLater(run.input.interval, f"waiting {run.input.interval:g} s for the provider")
        with run.not_resumable():
            await run.pool.execute("UPDATE provider_jobs SET finishing = true WHERE id = $1", state.provider_job_id)
            await _hold(run, run.input.finish_seconds)
    except JobCancelled:
        await run.pool.execute("UPDATE provider_jobs SET cancelled = true WHERE id = $1", state.provider_job_id)
        raise
    return ProviderResult(provider_job_id=state.provider_job_id, polls=polls)


job_task(FINE_TUNE_QUEUE_JOB)(run_provider_job)
