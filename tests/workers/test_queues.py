"""Queues per job kind and delayed messages: what a worker takes, and that waiting runs hold no thread."""

from __future__ import annotations

import signal
from collections.abc import Callable

import pytest

from tests.support.datasets import load
from tests.workers.conftest import Worker, Yard
from tests.workers.provider import FINE_TUNE_QUEUE_JOB, PROVIDER_JOB, ProviderInput
from tuneyard.core.config import Settings
from tuneyard.datasets import service as datasets
from tuneyard.datasets.exports.service import start_export
from tuneyard.datasets.models import ExportFormat, NewDataset
from tuneyard.jobs import registry
from tuneyard.jobs import service as jobs
from tuneyard.jobs.models import JobStatus
from tuneyard.maintenance.service import start_check
from tuneyard.workers.main import choose_queues, import_task_modules


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


async def test_ordinary_workers_leave_fine_tunes_to_the_fine_tune_worker(
    yard: Yard, workers: Callable[..., Worker]
) -> None:
    ordinary = workers("--threads", "1", TUNEYARD_WORKER_EXCLUDE_QUEUES="finetune")  # the setting, on every host
    gpu = workers("--threads", "1", "--queues", "finetune")
    misspelt = workers("--exclude-queues", "finetune,finetunes")
    ordinary.wait_ready()
    gpu.wait_ready()
    fine_tunes = [await jobs.create_and_enqueue(yard.pool, FINE_TUNE_QUEUE_JOB, ProviderInput(polls=1)) for _ in "123"]
    others = [await jobs.create_and_enqueue(yard.pool, PROVIDER_JOB, ProviderInput(polls=1)) for _ in "123"]
    for job in (*fine_tunes, *others):
        assert (await yard.final(job.id)).status is JobStatus.SUCCEEDED
    assert [(await yard.provider_jobs(job.id))[0]["polled_by"] for job in fine_tunes] == [[gpu.pid]] * 3
    assert [(await yard.provider_jobs(job.id))[0]["polled_by"] for job in others] == [[ordinary.pid]] * 3
    assert "(finetune)" not in ordinary.output() and "test.provider (test-provider)" in ordinary.output()
    assert misspelt.process.wait(30) == 2
    assert (
        "--exclude-queues (TUNEYARD_WORKER_EXCLUDE_QUEUES): no job kinds on queues ['finetunes']" in misspelt.output()
    )


def test_queue_options_that_leave_nothing_to_take_are_refused() -> None:
    import_task_modules(Settings())
    everything = registry.queues()
    assert choose_queues(None) == everything and "finetune" in everything
    assert choose_queues(None, ["finetune"]) == [q for q in everything if q != "finetune"]
    assert choose_queues(["finetune", "export", "finetune"], ["export"]) == ["finetune"]
    with pytest.raises(ValueError, match=r"^no queue is left to take after excluding export, finetune; the queues are"):
        choose_queues(["finetune"], ["finetune", "export"])
    with pytest.raises(ValueError, match=r"^--queues: name at least one queue \(or leave it out for every queue\)"):
        choose_queues([])
