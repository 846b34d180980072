"""GraphQL types for fine-tunes: the request and its estimate."""

from __future__ import annotations

from datetime import date
from typing import Any

import strawberry
from strawberry.scalars import JSON

from tuneyard.core.errors import ValidationError
from tuneyard.datasets.types import ExportFormat
from tuneyard.finetunes.models import Estimate
from tuneyard.providers.models import FineTuneRequest
from tuneyard.providers.types import Provider


@strawberry.input
class FineTuneInput:
    dataset_id: strawberry.ID = strawberry.field(description="The dataset version to train on.")
    provider: Provider
    base_model: str = strawberry.field(description="One of the provider's baseModels that canFineTune.")
    model_name: str | None = strawberry.field(
        default=None, description="The name the resulting model registers under; derived when omitted."
    )
    epochs: int | None = strawberry.field(default=None, description="1 to 50; omitted: the provider chooses.")
    learning_rate: float | None = strawberry.field(
        default=None, description="LOCAL: the learning rate; OPENAI, GEMINI_VERTEX: the multiplier."
    )
    batch_size: int | None = None
    lora_rank: int | None = strawberry.field(default=None, description="LOCAL only.")
    max_steps: int | None = strawberry.field(default=None, description="LOCAL only: stop early (smoke runs).")
    extra: JSON | None = strawberry.field(
        default=None,
        description="Provider settings passed through, checked per provider: OPENAI {suffix, seed}, "
        "GEMINI_VERTEX {adapterSize}.",
    )


def as_request(given: FineTuneInput) -> FineTuneRequest:
    extra: Any = given.extra or {}
    if not isinstance(extra, dict):
        raise ValidationError("input.extra: must be a JSON object")
    return FineTuneRequest(
        dataset_id=str(given.dataset_id), provider=given.provider, base_model=given.base_model.strip(),
        model_name=given.model_name, epochs=given.epochs, learning_rate=given.learning_rate,
        batch_size=given.batch_size, lora_rank=given.lora_rank, max_steps=given.max_steps, extra=extra,
    )  # fmt: skip


@strawberry.type(description="What a fine-tune will train on and cost, before anything starts.")
class FineTuneEstimate:
    provider: Provider
    base_model: str
    export_format: ExportFormat = strawberry.field(description="The format its training files are written in.")
    train_examples: int
    validation_examples: int
    train_tokens: int = strawberry.field(description="Training-text tokens (tiktoken cl100k_base, as exports count).")
    validation_tokens: int
    epochs: int
    billable_tokens: int = strawberry.field(description="trainTokens x epochs (validation is not billed).")
    estimated_cost_usd: float | None = strawberry.field(description="billableTokens x the training price.")
    prices_as_of: date | None
    estimated_seconds: float | None = strawberry.field(description="A rough guide: queueing plus training.")
    warnings: list[str]
    blockers: list[str] = strawberry.field(description="Why startFineTune would refuse now; empty when it can start.")
    steps: int | None = strawberry.field(description="LOCAL: the optimizer steps it will take.")
    estimated_peak_memory_bytes: float | None = strawberry.field(
        description="LOCAL: the training process's peak memory, measured on this machine."
    )


def estimate_to_schema(found: Estimate) -> FineTuneEstimate:
    return FineTuneEstimate(
        provider=found.provider, base_model=found.base_model, export_format=found.export_format,
        train_examples=found.train_examples, validation_examples=found.validation_examples,
        train_tokens=found.train_tokens, validation_tokens=found.validation_tokens, epochs=found.epochs,
        billable_tokens=found.billable_tokens, estimated_cost_usd=found.estimated_cost_usd,
        prices_as_of=found.prices_as_of, estimated_seconds=found.estimated_seconds, warnings=found.warnings,
        blockers=found.blockers, steps=found.steps, estimated_peak_memory_bytes=found.estimated_peak_memory_bytes,
    )  # fmt: skip
