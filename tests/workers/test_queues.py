"""Queues per job kind and delayed messages: what a worker takes, and that waiting runs hold no thread."""

from __future__ import annotations

import signal
from collections.abc import Callable

from tests.support.datasets import load
from tests.workers.conftest import Worker, Yard
from tests.workers.provider import PROVIDER_JOB, ProviderInput
from tuneyard.datasets import service as datasets
from tuneyard.datasets.exports.service import start_export
from tuneyard.datasets.models import ExportFormat, NewDataset
from tuneyard.jobs import service as jobs
from tuneyard.jobs.models import JobStatus
from tuneyard.maintenance.service import start_check


async def test_polling_jobs_wait_in_redis_not_in_a_thread(yard: Yard, workers: Callable[..., Worker]) -> None:
    await load(yard.pool, 40)
    version = await datasets.create(yard.pool, NewDataset("polled", None, {}, 0.0, 1))
    workers("--threads", "1", "--queues", "test-provider,export").wait_ready()
    polling = ProviderInput(polls=8, interval=0.3)
    first, second = [await jobs.create_and_enqueue(yard.pool, PROVIDER_JOB, polling) for _ in range(2)]
    export = await start_export(yard.pool, str(version.id), ExportFormat.RAW, "test")
    done = [await yard.final(job.id) for job in (first, second, export)]
    assert [job.status for job in done] == [JobStatus.SUCCEEDED] * 3, done
    # One thread, yet both provider jobs were polled turn about, and the export ran while they waited.
    a, b = [(await yard.provider_jobs(job.id))[0]["polled_at"] for job in (first, second)]
    assert a[0] < b[-1] and b[0] < a[-1], (a, b)
    assert done[2].finished_at is not None and done[0].finished_at is not None and done[1].finished_at is not None
    assert done[2].finished_at < min(done[0].finished_at, done[1].finished_at)
    assert done[2].result["format"] == "RAW" and done[2].result["lineCount"] == 40
    assert done[0].result["polls"] == 8 and done[0].attempts == 1


async def test_a_worker_takes_only_the_kinds_of_its_queues(yard: Yard, workers: Callable[..., Worker]) -> None:
    maintenance = workers("--threads", "1", "--queues", "maintenance")
    nonsense = workers("--queues", "maintenance,nonsense")
    maintenance.wait_ready()
    provider = await jobs.create_and_enqueue(yard.pool, PROVIDER_JOB, ProviderInput(polls=1))
    check = await start_check(yard.pool, False, 100, 0, "test")
    assert (await yard.final(check.id)).status is JobStatus.SUCCEEDED
    untouched = await yard.job(provider.id)
    assert (untouched.status, untouched.attempts) == (JobStatus.QUEUED, 0), "not this worker's queue"
    assert "examples.check (maintenance)" in maintenance.output() and "test.provider" not in maintenance.output()

    workers("--threads", "1", "--queues", "test-provider").wait_ready()
    assert (await yard.final(provider.id)).status is JobStatus.SUCCEEDED
    assert nonsense.process.wait(20) == 2
    assert "no job kinds on queues ['nonsense']" in nonsense.output()
    assert maintenance.exited_after(maintenance.signal(signal.SIGTERM)) < 5
