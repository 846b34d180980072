"""What every fine-tune's work shares: progress for a part of it, and registering the model it made."""

from __future__ import annotations

from typing import Any

from tuneyard.finetunes.models import FineTuneInput, FineTuneResult, Metric
from tuneyard.jobs.service import JobRun
from tuneyard.providers import service as providers
from tuneyard.providers.models import Provider
from tuneyard.registry import service as registry

Run = JobRun[FineTuneInput, FineTuneResult]


class Scaled:
    """The job's progress seen by a part of the work: its 0..1 mapped onto [low, high]."""

    def __init__(self, run: Run, low: float, high: float) -> None:
        self.run, self.low, self.high = run, low, high

    async def progress(self, fraction: float, message: str | None = None) -> None:
        await self.run.progress(self.low + fraction * (self.high - self.low), message)

    async def check_cancelled(self) -> None:
        await self.run.check_cancelled()


def final_metrics(metrics: list[Metric], trained_tokens: int | None) -> dict[str, Any]:
    """The model's metrics: the last step's losses (the last validation loss reported), steps and tokens."""
    last = metrics[-1] if metrics else None
    validated = [m.valid_loss for m in metrics if m.valid_loss is not None]
    return {
        "trainedTokens": trained_tokens, "steps": None if last is None else last.step,
        "trainLoss": None if last is None else last.train_loss, "validLoss": validated[-1] if validated else None,
    }  # fmt: skip


async def register(
    run: Run, provider: Provider, provider_model_id: str, hyperparameters: dict[str, Any], metrics: dict[str, Any]
) -> registry.Model:
    """Register the job's model (once, however often the job's last step runs)."""
    job_input = run.input
    base = next((m for m in providers.module(job_input.provider).facts.base_models
                 if m.name == job_input.base_model), None)  # fmt: skip
    return await registry.register(
        run.pool,
        registry.NewModel(
            name=job_input.model_name, provider=provider, base_model=job_input.base_model,
            provider_model_id=provider_model_id, fine_tuned=True, dataset_id=int(job_input.dataset_id),
            job_id=run.id, hyperparameters=hyperparameters, metrics=metrics,
            shutdown_at=None if base is None else base.shutdown_at,
        ),
    )  # fmt: skip
