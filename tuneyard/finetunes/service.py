"""Fine-tune use cases: estimate, start (a FINE_TUNE job), and the job's work: on a provider's service
(remote.py) or on this worker (local.py)."""

from __future__ import annotations

import uuid

import asyncpg

from tuneyard.core.config import Settings
from tuneyard.core.errors import ValidationError
from tuneyard.datasets import service as datasets
from tuneyard.datasets.exports import service as exports
from tuneyard.datasets.models import Dataset
from tuneyard.finetunes import repository as repo
from tuneyard.finetunes.local import run_local
from tuneyard.finetunes.models import (
    FINE_TUNE_JOB,
    MAX_NAME,
    Calibration,
    Estimate,
    FineTuneInput,
    FineTuneResult,
    estimate,
    model_name,
)
from tuneyard.finetunes.remote import run_remote
from tuneyard.jobs.models import Job
from tuneyard.jobs.service import JobRun, create_and_enqueue
from tuneyard.providers import service as providers
from tuneyard.providers.models import FineTuneRequest, Provider


async def estimate_fine_tune(pool: asyncpg.Pool, settings: Settings, request: FineTuneRequest) -> Estimate:
    """The estimate of a fine-tune; BAD_USER_INPUT for settings the provider would refuse. A LOCAL one is measured
    on this machine the first time its settings are asked for (tens of seconds), then remembered."""
    found = providers.module(request.provider)
    if found.facts.export_format is None:  # nothing to train on, not even in principle
        raise ValidationError(found.facts.no_fine_tuning or f"{request.provider.value} does not fine-tune")
    if found.facts.no_fine_tuning is None:
        problems = found.check(request)
        if problems:
            raise ValidationError("; ".join(problems))
    dataset = await datasets.require(pool, request.dataset_id)
    tokens = await exports.token_counts(pool, dataset)
    missing = found.missing_settings(settings)
    models = await providers.base_models(found, settings)
    calibration = None
    if request.provider is Provider.LOCAL and not missing and any(m.name == request.base_model for m in models):
        calibration = await _calibration(pool, settings, request, dataset)
    return estimate(found.facts, models, request, dataset, tokens, settings.current_date(), missing, calibration)


async def _calibration(
    pool: asyncpg.Pool, settings: Settings, request: FineTuneRequest, dataset: Dataset
) -> Calibration:
    defaults = providers.LOCAL_DEFAULTS
    batch = request.batch_size or defaults["batch_size"]
    length = int(request.extra.get("maxLength", defaults["max_length"]))
    rank = request.lora_rank or defaults["lora_rank"]
    key = (request.base_model, batch, length, rank, settings.local_device)
    measured = await repo.calibration(pool, key)
    if measured is None:
        measured = await providers.local().calibrate(settings, request.base_model, batch, length, rank)
        await repo.save_calibration(pool, key, *measured)
    steps = providers.plan_steps(dataset.train_count, request.epochs or 1, batch, request.max_steps)
    return Calibration(load_seconds=measured[0], seconds_per_step=measured[1], peak_memory_bytes=measured[2],
                       steps=steps)  # fmt: skip


async def start_fine_tune(pool: asyncpg.Pool, settings: Settings, request: FineTuneRequest, created_by: str) -> Job:
    """Start a FINE_TUNE job, or refuse (BAD_USER_INPUT) with every blocker the estimate finds."""
    found = await estimate_fine_tune(pool, settings, request)
    if found.blockers:
        raise ValidationError("; ".join(found.blockers))
    dataset = await datasets.require(pool, request.dataset_id)
    name = (request.model_name or "").strip() or model_name(dataset, request.base_model)
    if len(name) > MAX_NAME:
        raise ValidationError(f"input.modelName: at most {MAX_NAME} characters")
    job_input = FineTuneInput(
        marker=f"tuneyard-{uuid.uuid4().hex[:20]}", dataset_id=str(dataset.id), provider=request.provider,
        base_model=request.base_model, model_name=name, epochs=request.epochs, learning_rate=request.learning_rate,
        batch_size=request.batch_size, lora_rank=request.lora_rank, max_steps=request.max_steps, extra=request.extra,
    )  # fmt: skip
    return await create_and_enqueue(pool, FINE_TUNE_JOB, job_input, created_by=created_by)


async def run_fine_tune(run: JobRun[FineTuneInput, FineTuneResult]) -> FineTuneResult:
    """The FINE_TUNE job's work."""
    if run.result is None:
        run.result = FineTuneResult(provider=run.input.provider, base_model=run.input.base_model)
    if run.input.provider is Provider.LOCAL:
        return await run_local(run)
    return await run_remote(run)
