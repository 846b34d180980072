"""The FINE_TUNE job's input, checkpoint and result, and the estimate (pure arithmetic over dated facts)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from tuneyard.datasets.exports.models import TokenCounts
from tuneyard.datasets.models import Dataset, ExportFormat
from tuneyard.jobs.models import JobKind, JobModel, JobType
from tuneyard.providers.models import BaseModelFacts, FineTuneRequest, Provider, ProviderFacts, TrainingMetric

FEW_EXAMPLES = 100  # fewer training examples teach a model little: a warning
SHUTDOWN_WARNING_DAYS = 90
MAX_METRICS = 500  # training metrics kept in the job's result (the latest ones)
MAX_NAME = 200


class FineTuneInput(JobModel):
    # Labels the provider's job (OpenAI metadata, Vertex label) so that a run can find the one it started: unique
    # across installations sharing a provider account, unlike job ids.
    marker: str
    dataset_id: str
    provider: Provider
    base_model: str
    model_name: str
    epochs: int | None = None
    learning_rate: float | None = None
    batch_size: int | None = None
    lora_rank: int | None = None
    max_steps: int | None = None
    extra: dict[str, Any] = {}

    def request(self) -> FineTuneRequest:
        return FineTuneRequest(
            dataset_id=self.dataset_id, provider=self.provider, base_model=self.base_model,
            model_name=self.model_name, epochs=self.epochs, learning_rate=self.learning_rate,
            batch_size=self.batch_size, lora_rank=self.lora_rank, max_steps=self.max_steps, extra=self.extra,
        )  # fmt: skip


class UploadedNames(JobModel):
    train: str
    validation: str | None


class FineTuneCheckpoint(JobModel):
    """Where a fine-tune is: files uploaded, then the provider's job (its id saved before anything else)."""

    files: UploadedNames | None = None
    provider_job_id: str | None = None
    cursor: dict[str, Any] = {}  # the provider's poll cursor: events and metrics already reported
    failures: int = 0  # retryable provider failures in a row


class Metric(JobModel):
    step: int
    train_loss: float | None = None
    valid_loss: float | None = None
    total_steps: int | None = None

    @classmethod
    def of(cls, metric: TrainingMetric) -> Metric:
        return cls(
            step=metric.step, train_loss=metric.train_loss, valid_loss=metric.valid_loss,
            total_steps=metric.total_steps,
        )  # fmt: skip

    def describe(self) -> str:
        of = f"/{self.total_steps}" if self.total_steps else ""
        losses = [f"{name} {value:.4f}" for name, value in (("train loss", self.train_loss),
                  ("valid loss", self.valid_loss)) if value is not None]  # fmt: skip
        return f"step {self.step}{of}" + (": " + ", ".join(losses) if losses else "")


class FineTuneResult(JobModel):
    provider: Provider
    base_model: str
    provider_job_id: str | None = None
    provider_status: str | None = None  # the provider's own word for its job's state
    metrics: list[Metric] = []  # the latest MAX_METRICS, by step
    trained_tokens: int | None = None
    model_id: str | None = None  # the registered Model, once the job succeeded
    provider_model_id: str | None = None
    warnings: list[str] = []  # what went wrong without losing the model (an Ollama import that failed)


FINE_TUNE_JOB = JobType(
    JobKind.FINE_TUNE, actor="finetune.run", queue="finetune", input=FineTuneInput, result=FineTuneResult
)


@dataclass(frozen=True, slots=True)
class Calibration:
    """A LOCAL fine-tune measured on this machine (tuneyard.providers.local.calibrate)."""

    load_seconds: float
    seconds_per_step: float
    peak_memory_bytes: int
    steps: int  # the steps this fine-tune will take


@dataclass(frozen=True, slots=True)
class Estimate:
    provider: Provider
    base_model: str
    export_format: ExportFormat
    train_examples: int
    validation_examples: int
    train_tokens: int
    validation_tokens: int
    epochs: int
    billable_tokens: int
    estimated_cost_usd: float | None
    prices_as_of: date | None
    estimated_seconds: float | None
    warnings: list[str]
    blockers: list[str]
    steps: int | None = None  # LOCAL: optimizer steps
    estimated_peak_memory_bytes: int | None = None  # LOCAL: measured


def estimate(
    facts: ProviderFacts,
    base_models: list[BaseModelFacts],
    request: FineTuneRequest,
    dataset: Dataset,
    tokens: TokenCounts,
    today: date,
    missing_settings: list[str],
    calibration: Calibration | None = None,
) -> Estimate:
    """What the fine-tune will train on and cost, what to know first (warnings) and what stops it (blockers).
    A LOCAL fine-tune's duration comes from its calibration (load time plus steps at the measured pace)."""
    provider, name = facts.provider.value, request.base_model
    base = next((m for m in base_models if m.name == name), None)
    epochs = request.epochs or facts.default_epochs
    billable = tokens.train * epochs
    warnings: list[str] = []
    blockers: list[str] = []
    if facts.no_fine_tuning:
        blockers.append(facts.no_fine_tuning)
    if missing_settings:
        blockers.append(f"{provider} is not configured: {'; '.join(missing_settings)}")
    if facts.closed_on(today):
        blockers.append(
            f"{provider} takes no new fine-tuning jobs after {facts.fine_tune_closes_at} (today is {today})"
        )
    if base is None or not base.can_fine_tune:
        known = ", ".join(m.name for m in base_models if m.can_fine_tune) or "none"
        blockers.append(f"{provider} cannot fine-tune {name} (its base models that can: {known})")
    elif base.shutdown_at is not None and base.shutdown_at <= today:
        blockers.append(f"{name} was shut down on {base.shutdown_at}")
    elif base.shutdown_at is not None and (base.shutdown_at - today).days <= SHUTDOWN_WARNING_DAYS:
        days = (base.shutdown_at - today).days
        warnings.append(f"{name} shuts down on {base.shutdown_at}, in {days} days: its fine-tuned models stop then")
    if dataset.deleted_at is not None:
        blockers.append(f"dataset {dataset.name} v{dataset.version} is deleted")
    if dataset.train_count < facts.min_examples:
        blockers.append(f"{provider} needs at least {facts.min_examples} training examples; this version has "
                        f"{dataset.train_count}")  # fmt: skip
    if dataset.train_count < FEW_EXAMPLES:
        warnings.append(f"only {dataset.train_count} training examples: {FEW_EXAMPLES} or more teach a model far more")
    if dataset.validation_count == 0:
        warnings.append("no validation split: nothing measures over-fitting (set validationFraction on the version)")
    if base is not None and base.context_tokens is not None:
        over, exact = tokens.over(base.context_tokens)
        if over:
            count = str(over) if exact else f"at least {over}"
            warnings.append(f"{count} examples have more than {base.context_tokens:,} tokens, the most {name} "
                            "trains on: the provider skips or refuses them")  # fmt: skip
    if request.epochs is None:
        warnings.append(f"epochs not given: {provider} chooses; estimated with {epochs}")
    price = None if base is None else base.training_price
    seconds = None
    if calibration is not None:
        seconds = calibration.load_seconds + calibration.steps * calibration.seconds_per_step
    elif facts.tokens_per_second is not None:
        seconds = facts.overhead_seconds + billable / facts.tokens_per_second
    assert facts.export_format is not None
    return Estimate(
        provider=facts.provider, base_model=name, export_format=facts.export_format,
        train_examples=dataset.train_count, validation_examples=dataset.validation_count,
        train_tokens=tokens.train, validation_tokens=tokens.validation, epochs=epochs, billable_tokens=billable,
        estimated_cost_usd=None if price is None else billable * price / 1_000_000,
        prices_as_of=None if base is None else base.prices_as_of, estimated_seconds=seconds,
        warnings=warnings, blockers=blockers, steps=None if calibration is None else calibration.steps,
        estimated_peak_memory_bytes=None if calibration is None else calibration.peak_memory_bytes,
    )  # fmt: skip


def model_name(dataset: Dataset, base_model: str) -> str:
    """The name a fine-tune's model registers under when none is given."""
    return f"{dataset.name}-v{dataset.version}-{base_model}"[:MAX_NAME]
