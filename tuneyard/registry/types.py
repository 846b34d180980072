"""GraphQL types for registered models."""

from __future__ import annotations

from datetime import date, datetime

import strawberry
from strawberry.scalars import JSON

from tuneyard.core.graphql.context import Info
from tuneyard.datasets import service as datasets
from tuneyard.datasets.types import Dataset, dataset_to_schema
from tuneyard.jobs import service as jobs
from tuneyard.jobs.types import Job
from tuneyard.jobs.types import to_schema as job_to_schema
from tuneyard.providers.types import Provider
from tuneyard.registry.models import Model as DomainModel
from tuneyard.registry.models import ModelStatus

strawberry.enum(ModelStatus, name="ModelStatus")


@strawberry.type(description="A model Tuneyard knows: one its fine-tunes made, or one registered by hand.")
class Model:
    record: strawberry.Private[DomainModel]
    id: strawberry.ID
    name: str
    provider: Provider
    base_model: str
    provider_model_id: str = strawberry.field(description='What the provider calls it ("ft:gpt-4.1-mini:...").')
    fine_tuned: bool
    hyperparameters: JSON | None
    metrics: JSON | None = strawberry.field(description="Final training metrics: loss, steps, tokens.")
    status: ModelStatus
    shutdown_at: date | None = strawberry.field(description="When its provider shuts it down, when announced.")
    created_at: datetime

    @strawberry.field(description="The dataset version it was trained on.")
    async def dataset(self, info: Info) -> Dataset | None:
        if self.record.dataset_id is None:
            return None
        found = await datasets.get(info.context.pool, self.record.dataset_id)
        return None if found is None else dataset_to_schema(found)

    @strawberry.field(description="The FINE_TUNE job that made it.")
    async def job(self, info: Info) -> Job | None:
        if self.record.job_id is None:
            return None
        found = await jobs.get(info.context.pool, self.record.job_id)
        return None if found is None else job_to_schema(found)


def to_schema(model: DomainModel) -> Model:
    return Model(
        record=model, id=strawberry.ID(str(model.id)), name=model.name, provider=model.provider,
        base_model=model.base_model, provider_model_id=model.provider_model_id, fine_tuned=model.fine_tuned,
        hyperparameters=model.hyperparameters, metrics=model.metrics, status=model.status,
        shutdown_at=model.shutdown_at, created_at=model.created_at,
    )  # fmt: skip
