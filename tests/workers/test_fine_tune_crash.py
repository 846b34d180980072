"""A FINE_TUNE job whose worker dies: the next run follows the same provider job, never starting a second one."""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path

import orjson

from tests.support.datasets import load
from tests.support.standins.env import provider_env
from tests.support.standins.openai_api import OpenAIStandIn
from tests.support.standins.vertex_api import VertexStandIn
from tests.workers.conftest import Worker, Yard, until
from tuneyard.core.config import Settings
from tuneyard.datasets import service as datasets
from tuneyard.datasets.models import Dataset, NewDataset
from tuneyard.finetunes import service as finetunes
from tuneyard.jobs.models import Job, JobStatus
from tuneyard.providers import service as providers
from tuneyard.providers.models import FineTuneRequest, Provider, TrainingFiles

FINE_TUNES = ("--threads", "1", "--queues", "finetune")
GPT = "gpt-4.1-mini-2025-04-14"


def _settings(env: dict[str, str]) -> Settings:
    return Settings(**{k.removeprefix("TUNEYARD_").lower(): v for k, v in env.items() if k.startswith("TUNEYARD_")})


async def _dataset(yard: Yard) -> Dataset:
    rows = await load(yard.pool, 12, prefix="crash")
    where = {"executionId": {"in": [r["execution_id"] for r in rows]}}
    return await datasets.create(yard.pool, NewDataset("crash", None, where, 0.0, 0))


def _provider_jobs(stand_in: OpenAIStandIn, job: Job) -> list[str]:
    return [i for i, j in stand_in.jobs.items() if j["metadata"] == {"tuneyard_job": job.input["marker"]}]


async def test_a_worker_killed_while_the_provider_trains_leaves_exactly_one_provider_job(
    yard: Yard, workers: Callable[..., Worker], openai_api: OpenAIStandIn, vertex_api: VertexStandIn
) -> None:
    # A killed worker may hold the job's delayed message (Dramatiq keeps it until it is due): the reaper re-sends
    # a deferred job that is overdue by this long (default 120 s).
    env = {**provider_env(openai_api, vertex_api), "TUNEYARD_JOB_REQUEUE_SECONDS": "2"}
    dataset = await _dataset(yard)
    openai_api.steps = 40  # 40 polls 0.2 s apart: time to kill a worker mid-training
    try:
        first = workers(*FINE_TUNES, **env).wait_ready()
        request = FineTuneRequest(str(dataset.id), Provider.OPENAI, GPT, epochs=1)
        job = await finetunes.start_fine_tune(yard.pool, _settings(env), request, "test")

        async def training() -> bool:
            return bool(((await yard.job(job.id)).result or {}).get("metrics"))

        await until(training, what="the provider's first training step")
        first.signal(signal.SIGKILL)
        workers(*FINE_TUNES, **env).wait_ready()
        final = await yard.final(job.id, within=90)
    finally:
        openai_api.steps = 3
    assert final.status is JobStatus.SUCCEEDED, final
    (provider_job,) = _provider_jobs(openai_api, job)  # created once: paid once
    assert final.result["providerJobId"] == provider_job and final.checkpoint["providerJobId"] == provider_job


async def test_a_provider_job_whose_id_was_never_saved_is_found_not_started_again(
    yard: Yard, workers: Callable[..., Worker], openai_api: OpenAIStandIn, vertex_api: VertexStandIn, tmp_path: Path
) -> None:
    """The window a kill can hit: the provider made its job but the run died before saving the id."""
    env = provider_env(openai_api, vertex_api)
    settings = _settings(env)
    dataset = await _dataset(yard)
    request = FineTuneRequest(str(dataset.id), Provider.OPENAI, GPT, epochs=1)
    job = await finetunes.start_fine_tune(yard.pool, settings, request, "test")  # no worker yet: stays QUEUED
    # What the lost run had done: uploaded its file (checkpointed) and created the provider's job (not saved).
    line = {"messages": [{"role": "user", "content": "plan it"}, {"role": "assistant", "content": '{"steps": []}'}]}
    path = tmp_path / "train.jsonl"
    path.write_bytes(b"\n".join([orjson.dumps(line)] * 12) + b"\n")
    tuner = providers.fine_tuner(Provider.OPENAI)
    marker = job.input["marker"]
    uploaded = await tuner.upload(settings, TrainingFiles(str(path), None, 12, 0), marker)
    made = await tuner.start(settings, request, uploaded, marker)
    await yard.pool.execute(
        "UPDATE jobs SET checkpoint = $2 WHERE id = $1",
        job.id,
        {"files": {"train": uploaded.train, "validation": None}},
    )
    workers(*FINE_TUNES, **env).wait_ready()
    final = await yard.final(job.id, within=60)
    assert final.status is JobStatus.SUCCEEDED, final
    assert _provider_jobs(openai_api, job) == [made] and final.result["providerJobId"] == made
