"""GraphQL types for providers: what each offers, its base models with dated prices."""

from __future__ import annotations

from datetime import date

import strawberry

from tuneyard.datasets.types import ExportFormat
from tuneyard.providers.models import BaseModelFacts, Provider, ProviderInfo

strawberry.enum(Provider, name="Provider")


@strawberry.type(name="BaseModel")
class BaseModel:
    name: str
    can_fine_tune: bool
    context_tokens: int | None = strawberry.field(description="The longest training example it takes, in tokens.")
    training_price_per_million_tokens: float | None = strawberry.field(description="USD per million tokens x epochs.")
    input_price_per_million_tokens: float | None = strawberry.field(description="USD, inference on the tuned model.")
    output_price_per_million_tokens: float | None
    prices_as_of: date | None = strawberry.field(description="The day the prices were read at their source.")
    shutdown_at: date | None = strawberry.field(description="End of life, when announced.")


@strawberry.type(name="ProviderInfo")
class ProviderInfoType:
    provider: Provider
    configured: bool = strawberry.field(description="Its credentials and addresses are set (TUNEYARD_* settings).")
    can_fine_tune: bool = strawberry.field(description="Now, on this date, with this configuration.")
    fine_tune_closes_at: date | None = strawberry.field(description="No new fine-tuning jobs after this day.")
    export_format: ExportFormat | None = strawberry.field(description="The training file format it takes.")
    base_models: list[BaseModel]
    notes: list[str] = strawberry.field(description="Facts a user must know: why it cannot fine-tune, and so on.")


def base_model_to_schema(facts: BaseModelFacts) -> BaseModel:
    return BaseModel(
        name=facts.name, can_fine_tune=facts.can_fine_tune, context_tokens=facts.context_tokens,
        training_price_per_million_tokens=facts.training_price, input_price_per_million_tokens=facts.input_price,
        output_price_per_million_tokens=facts.output_price, prices_as_of=facts.prices_as_of,
        shutdown_at=facts.shutdown_at,
    )  # fmt: skip


def info_to_schema(info: ProviderInfo) -> ProviderInfoType:
    facts = info.facts
    return ProviderInfoType(
        provider=facts.provider, configured=info.configured, can_fine_tune=info.can_fine_tune,
        fine_tune_closes_at=facts.fine_tune_closes_at, export_format=facts.export_format,
        base_models=[base_model_to_schema(m) for m in info.base_models], notes=info.notes,
    )  # fmt: skip
