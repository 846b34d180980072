"""A FINE_TUNE job whose worker dies: the next run follows the same provider job (never starting a second one), or
continues a LOCAL training from its last checkpoint."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path
from unittest.mock import patch

import orjson

from tests.support.datasets import load
from tests.support.standins.env import TINY
from tests.support.standins.openai_api import OpenAIStandIn
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
    """The settings a worker with this environment reads."""
    with patch.dict(os.environ, {k: v for k, v in env.items() if k.startswith("TUNEYARD_")}):
        return Settings()


async def _dataset(yard: Yard) -> Dataset:
    rows = await load(yard.pool, 12, prefix="crash")
    where = {"executionId": {"in": [r["execution_id"] for r in rows]}}
    return await datasets.create(yard.pool, NewDataset("crash", None, where, 0.0, 0))


def _provider_jobs(stand_in: OpenAIStandIn, job: Job) -> list[str]:
    return [i for i, j in stand_in.jobs.items() if j["metadata"] == {"tuneyard_job": job.input["marker"]}]


async def test_a_worker_killed_while_the_provider_trains_leaves_exactly_one_provider_job(
    yard: Yard, workers: Callable[..., Worker], openai_api: OpenAIStandIn, providers_env: dict[str, str]
) -> None:
    # A killed worker may hold the job's delayed message (Dramatiq keeps it until it is due): the reaper re-sends
    # a deferred job that is overdue by this long (default 120 s).
    env = {**providers_env, "TUNEYARD_JOB_REQUEUE_SECONDS": "2"}
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
    yard: Yard, workers: Callable[..., Worker], openai_api: OpenAIStandIn, providers_env: dict[str, str], tmp_path: Path
) -> None:
    """The window a kill can hit: the provider made its job but the run died before saving the id."""
    env = providers_env
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


async def test_a_local_fine_tune_killed_mid_run_resumes_from_its_checkpoint_with_the_same_losses(
    yard: Yard, workers: Callable[..., Worker], providers_env: dict[str, str]
) -> None:
    env = {**providers_env, "TUNEYARD_HOME": str(yard.home)}
    settings = _settings(env)
    rows = await load(yard.pool, 120, prefix="lora")
    where = {"executionId": {"in": [r["execution_id"] for r in rows]}}
    dataset = await datasets.create(yard.pool, NewDataset("lora", None, where, 0.0, 0))
    request = FineTuneRequest(str(dataset.id), Provider.LOCAL, TINY, epochs=5, max_steps=120, batch_size=4,
                              learning_rate=5e-3, extra={"checkpointEvery": 10, "maxLength": 1024})  # fmt: skip
    first = workers(*FINE_TUNES, **env).wait_ready()
    killed = await finetunes.start_fine_tune(yard.pool, settings, request, "test")

    async def checkpointed() -> int | None:
        step = ((await yard.job(killed.id)).checkpoint or {}).get("step", 0)
        return step if step >= 30 else None

    saved = await until(checkpointed, within=60, what="a checkpoint at step 30 or later")
    first.signal(signal.SIGKILL)
    workers(*FINE_TUNES, **env).wait_ready()
    resumed = await yard.final(killed.id, within=120)
    assert resumed.status is JobStatus.SUCCEEDED, resumed
    events = await yard.pool.fetch("SELECT message FROM job_events WHERE job_id = $1 ORDER BY seq", killed.id)
    resumed_at = [int(e["message"].split()[3].split("/")[0]) for e in events
                  if (e["message"] or "").startswith("resumed at step")]  # fmt: skip
    assert resumed_at and resumed_at[0] >= saved, (resumed_at, saved)  # only steps after the last checkpoint lost

    uninterrupted = await finetunes.start_fine_tune(yard.pool, settings, request, "test")
    clean = await yard.final(uninterrupted.id, within=120)
    assert clean.status is JobStatus.SUCCEEDED and clean.attempts == 1
    assert [m["trainLoss"] for m in resumed.result["metrics"]] == [m["trainLoss"] for m in clean.result["metrics"]]
    assert len(clean.result["metrics"]) == 120
