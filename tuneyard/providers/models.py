"""Providers as data: who they are, the dated facts about their base models, and what a fine-tune looks like to them.

Nothing here does I/O. The facts themselves (prices, dates, with their sources) are in catalog.py.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from tuneyard.datasets.models import ExportFormat


class Provider(enum.Enum):
    LOCAL = "LOCAL"
    OPENAI = "OPENAI"
    GEMINI_VERTEX = "GEMINI_VERTEX"
    OLLAMA = "OLLAMA"
    ANTHROPIC = "ANTHROPIC"


@dataclass(frozen=True, slots=True)
class Source:
    """Where a fact comes from, and when it was read there."""

    what: str
    url: str
    as_of: date


@dataclass(frozen=True, slots=True)
class BaseModelFacts:
    """A model a provider offers; prices in USD per million tokens."""

    name: str
    can_fine_tune: bool
    context_tokens: int | None = None  # the longest training example it takes
    training_price: float | None = None
    input_price: float | None = None  # inference on the fine-tuned model
    output_price: float | None = None
    prices_as_of: date | None = None
    shutdown_at: date | None = None  # end of life, when announced


@dataclass(frozen=True, slots=True)
class ProviderFacts:
    """What is known about a provider, independent of this installation's settings."""

    provider: Provider
    export_format: ExportFormat | None  # the training file format it takes
    base_models: tuple[BaseModelFacts, ...]
    notes: tuple[str, ...] = ()
    sources: tuple[Source, ...] = ()
    fine_tune_closes_at: date | None = None  # no new fine-tuning jobs after this day
    no_fine_tuning: str | None = None  # why this provider cannot fine-tune at all, if it cannot
    min_examples: int = 1  # fewer training examples are refused by the provider
    default_epochs: int = 3  # what the provider uses when epochs are not given (estimates use it too)
    # Rough duration: a fixed wait (validation, queue) plus billable tokens at this many per second.
    overhead_seconds: float = 0.0
    tokens_per_second: float | None = None

    def base_model(self, name: str) -> BaseModelFacts | None:
        return next((m for m in self.base_models if m.name == name), None)

    def closed_on(self, today: date) -> bool:
        return self.fine_tune_closes_at is not None and today > self.fine_tune_closes_at


@dataclass(frozen=True, slots=True)
class ProviderInfo:
    """A provider as this installation sees it today."""

    facts: ProviderFacts
    configured: bool
    can_fine_tune: bool
    notes: list[str]
    base_models: list[BaseModelFacts]


@dataclass(frozen=True, slots=True)
class FineTuneRequest:
    """A startFineTune / fineTuneEstimate request; `extra` holds provider-specific settings (checked per provider)."""

    dataset_id: str
    provider: Provider
    base_model: str
    model_name: str | None = None
    epochs: int | None = None
    learning_rate: float | None = None
    batch_size: int | None = None
    lora_rank: int | None = None
    max_steps: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TrainingFiles:
    """The local export files a fine-tune trains on (validation None when the version has no validation split)."""

    train: str  # a path
    validation: str | None
    train_examples: int
    validation_examples: int


@dataclass(frozen=True, slots=True)
class UploadedFiles:
    """What the provider calls the uploaded files: file ids, gs:// URIs."""

    train: str
    validation: str | None


class ProviderState(enum.Enum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def final(self) -> bool:
        return self in (ProviderState.SUCCEEDED, ProviderState.FAILED, ProviderState.CANCELLED)


@dataclass(frozen=True, slots=True)
class ProviderEvent:
    at: datetime
    message: str


@dataclass(frozen=True, slots=True)
class TrainingMetric:
    """One step's training metrics as the provider reports them."""

    step: int
    train_loss: float | None = None
    valid_loss: float | None = None
    total_steps: int | None = None


@dataclass(frozen=True, slots=True)
class PollResult:
    """One look at the provider's job: its state and what is new since the cursor given to poll()."""

    state: ProviderState
    provider_status: str  # the provider's own word for it ("running", "JOB_STATE_RUNNING")
    cursor: dict[str, Any]  # pass to the next poll (saved in the job's checkpoint)
    events: list[ProviderEvent] = field(default_factory=list)  # new ones, oldest first
    metrics: list[TrainingMetric] = field(default_factory=list)  # new ones, by step
    progress: float | None = None  # 0..1 of the provider's own work, when it says
    model_id: str | None = None  # the resulting model, once SUCCEEDED
    error: str | None = None  # the provider's reason, once FAILED
    trained_tokens: int | None = None  # billed tokens, when it says


@dataclass(frozen=True, slots=True)
class Completion:
    """One answer of a model (ProviderModule.complete). Token counts as the provider bills them (None: it did not
    say); seconds: the wall time of the whole call, a model's loading or the SDK's retries included."""

    text: str
    input_tokens: int | None
    output_tokens: int | None
    seconds: float
