"""GraphQL types for the registry: models, the active model and its history, benchmark results."""

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
from tuneyard.registry import benchmarks as benchmarking
from tuneyard.registry import service
from tuneyard.registry.models import ActiveModelChange as DomainChange
from tuneyard.registry.models import BenchmarkResult as DomainBenchmark
from tuneyard.registry.models import Model as DomainModel
from tuneyard.registry.models import ModelStatus

strawberry.enum(ModelStatus, name="ModelStatus")


async def _dataset(info: Info, dataset_id: int | None) -> Dataset | None:
    found = None if dataset_id is None else await datasets.get(info.context.pool, dataset_id)
    return None if found is None else dataset_to_schema(found)


async def _job(info: Info, job_id: int | None) -> Job | None:
    found = None if job_id is None else await jobs.get(info.context.pool, job_id)
    return None if found is None else job_to_schema(found)


async def _model(info: Info, model_id: int) -> Model:
    found = await service.get(info.context.pool, model_id)
    assert found is not None  # models are never deleted
    return to_schema(found)


@strawberry.type(description="A model Tuneyard knows: one its fine-tunes made, or one registered by hand.")
class Model:
    record: strawberry.Private[DomainModel]
    id: strawberry.ID
    name: str
    provider: Provider
    base_model: str
    provider_model_id: str = strawberry.field(
        description="What the provider calls it: ft:gpt-4.1-mini:..., an endpoint, an Ollama tag."
    )
    fine_tuned: bool
    hyperparameters: JSON | None
    metrics: JSON | None = strawberry.field(description="Final training metrics: loss, steps, tokens.")
    status: ModelStatus
    shutdown_at: date | None = strawberry.field(
        description="When its provider shuts it down (its own date, else its base model's in the provider table)."
    )
    created_at: datetime
    retired_at: datetime | None

    @strawberry.field(description="The dataset version it was trained on.")
    async def dataset(self, info: Info) -> Dataset | None:
        return await _dataset(info, self.record.dataset_id)

    @strawberry.field(description="The FINE_TUNE job that made it.")
    async def job(self, info: Info) -> Job | None:
        return await _job(info, self.record.job_id)

    @strawberry.field(description="Its latest benchmark on each dataset version.")
    async def benchmarks(self, info: Info) -> list[BenchmarkResult]:
        found = await benchmarking.benchmarks(info.context.pool, None, [str(self.record.id)])
        return [benchmark_to_schema(b) for b in found]

    @strawberry.field(description="Every active-model change that made it active or replaced it, newest first.")
    async def active_model_changes(self, info: Info) -> list[ActiveModelChange]:
        return [change_to_schema(c) for c in await service.changes_using(info.context.pool, self.record.id)]


def to_schema(model: DomainModel) -> Model:
    return Model(
        record=model, id=strawberry.ID(str(model.id)), name=model.name, provider=model.provider,
        base_model=model.base_model, provider_model_id=model.provider_model_id, fine_tuned=model.fine_tuned,
        hyperparameters=model.hyperparameters, metrics=model.metrics, status=model.status,
        shutdown_at=model.shutdown_at, created_at=model.created_at, retired_at=model.retired_at,
    )  # fmt: skip


@strawberry.input
class RegisterModelInput:
    name: str
    provider: Provider
    provider_model_id: str = strawberry.field(description="An OpenAI model, an Ollama tag, a Claude model...")
    base_model: str | None = strawberry.field(default=None, description="Defaults to providerModelId.")
    shutdown_at: date | None = strawberry.field(
        default=None, description="Defaults to the provider table's date for its base model."
    )


@strawberry.type(description="One change of a purpose's active model.")
class ActiveModelChange:
    record: strawberry.Private[DomainChange]
    id: strawberry.ID
    purpose: str
    reason: str | None
    changed_by: str = strawberry.field(description="The name of the token that made the change.")
    at: datetime
    rollback: bool = strawberry.field(description="The change returned to the model active before.")

    @strawberry.field
    async def model(self, info: Info) -> Model:
        return await _model(info, self.record.model_id)

    @strawberry.field
    async def previous(self, info: Info) -> Model | None:
        previous = self.record.previous_model_id
        return None if previous is None else await _model(info, previous)


def change_to_schema(change: DomainChange) -> ActiveModelChange:
    return ActiveModelChange(
        record=change, id=strawberry.ID(str(change.id)), purpose=change.purpose, reason=change.reason,
        changed_by=change.changed_by, at=change.at, rollback=change.rollback_of is not None,
    )  # fmt: skip


@strawberry.type(description="The model a purpose uses now, and what to fall back to.")
class ActiveModel:
    purpose: str
    model: Model
    fallbacks: list[Model] = strawberry.field(
        description="Tried in order when the model is unavailable: the model active before it (if still usable), "
        "then its base model (when registered)."
    )
    since: datetime

    @strawberry.field(description="The purpose's changes, newest first (first: at most 500).")
    async def history(self, info: Info, first: int | None = 20) -> list[ActiveModelChange]:
        found = await service.history(info.context.pool, self.purpose, 20 if first is None else first)
        return [change_to_schema(c) for c in found]


def active_to_schema(found: service.Active) -> ActiveModel:
    return ActiveModel(
        purpose=found.purpose, model=to_schema(found.model), fallbacks=[to_schema(m) for m in found.fallbacks],
        since=found.since,
    )  # fmt: skip


@strawberry.type(description="A model's answers to a version's validation requests, scored against the recorded plans.")
class BenchmarkResult:
    record: strawberry.Private[DomainBenchmark]
    id: strawberry.ID
    example_count: int
    failures: int = strawberry.field(description="Examples whose call failed (counted as wrong answers).")
    json_valid_rate: float = strawberry.field(description="Share of answers that parse as JSON.")
    plan_exact_match: float = strawberry.field(description="Share of answers equal to the recorded plan.")
    step_f1: float = strawberry.field(description="Mean F1 of the answer's steps against the recorded ones.")
    latency_p50_ms: float
    latency_p95_ms: float
    input_tokens: int
    output_tokens: int
    cost_usd: float | None = strawberry.field(description="From the provider table's prices; null without one.")
    created_at: datetime

    @strawberry.field
    async def model(self, info: Info) -> Model:
        return await _model(info, self.record.model_id)

    @strawberry.field
    async def dataset(self, info: Info) -> Dataset:
        found = await _dataset(info, self.record.dataset_id)
        assert found is not None
        return found

    @strawberry.field
    async def job(self, info: Info) -> Job:
        found = await _job(info, self.record.job_id)
        assert found is not None
        return found


def benchmark_to_schema(result: DomainBenchmark) -> BenchmarkResult:
    return BenchmarkResult(
        record=result, id=strawberry.ID(str(result.id)), example_count=result.example_count, failures=result.failures,
        json_valid_rate=result.json_valid_rate, plan_exact_match=result.plan_exact_match, step_f1=result.step_f1,
        latency_p50_ms=result.latency_p50_ms, latency_p95_ms=result.latency_p95_ms, input_tokens=result.input_tokens,
        output_tokens=result.output_tokens, cost_usd=result.cost_usd, created_at=result.created_at,
    )  # fmt: skip
