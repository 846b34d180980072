"""Resolvers for the registry: models, the active model (READER reads, ADMIN changes), benchmarks."""

from __future__ import annotations

import strawberry

from tuneyard.core.audit import audited
from tuneyard.core.graphql.context import Info
from tuneyard.core.principal import Role
from tuneyard.jobs.types import Job
from tuneyard.jobs.types import to_schema as job_to_schema
from tuneyard.providers.models import Provider
from tuneyard.registry import benchmarks as benchmarking
from tuneyard.registry import service
from tuneyard.registry.types import (
    ActiveModel,
    BenchmarkResult,
    Model,
    RegisterModelInput,
    active_to_schema,
    benchmark_to_schema,
    to_schema,
)


async def models(info: Info, provider: Provider | None = None, include_retired: bool | None = False) -> list[Model]:
    info.context.require(Role.READER)
    return [to_schema(m) for m in await service.listed(info.context.pool, provider, bool(include_retired))]


async def model(info: Info, id: strawberry.ID) -> Model | None:
    info.context.require(Role.READER)
    found = await service.get(info.context.pool, id)
    return None if found is None else to_schema(found)


async def active_model(info: Info, purpose: str = service.DEFAULT_PURPOSE) -> ActiveModel | None:
    info.context.require(Role.READER)
    found = await service.active(info.context.pool, info.context.settings, purpose)
    return None if found is None else active_to_schema(found)


async def benchmarks(
    info: Info, dataset_id: strawberry.ID | None = None, model_ids: list[strawberry.ID] | None = None
) -> list[BenchmarkResult]:
    info.context.require(Role.READER)
    found = await benchmarking.benchmarks(info.context.pool, dataset_id, None if model_ids is None else list(model_ids))
    return [benchmark_to_schema(b) for b in found]


@audited
async def register_model(info: Info, input: RegisterModelInput) -> Model:
    info.context.require(Role.ADMIN)
    new = service.NewModel(
        name=input.name, provider=input.provider, base_model=input.base_model or "",
        provider_model_id=input.provider_model_id, fine_tuned=False, shutdown_at=input.shutdown_at,
    )  # fmt: skip
    return to_schema(await service.register_by_hand(info.context.pool, new))


@audited
async def retire_model(info: Info, id: strawberry.ID) -> Model:
    info.context.require(Role.ADMIN)
    return to_schema(await service.retire(info.context.pool, id))


@audited
async def set_active_model(
    info: Info, model_id: strawberry.ID, purpose: str = service.DEFAULT_PURPOSE, reason: str | None = None
) -> ActiveModel:
    principal = info.context.require(Role.ADMIN)
    context = info.context
    found = await service.set_active(context.pool, context.settings, model_id, purpose, reason, principal.name)
    return active_to_schema(found)


@audited
async def rollback_active_model(
    info: Info, purpose: str = service.DEFAULT_PURPOSE, reason: str | None = None
) -> ActiveModel:
    principal = info.context.require(Role.ADMIN)
    context = info.context
    return active_to_schema(await service.rollback(context.pool, context.settings, purpose, reason, principal.name))


@audited
async def benchmark_models(
    info: Info, model_ids: list[strawberry.ID], dataset_id: strawberry.ID, limit: int | None = None
) -> Job:
    principal = info.context.require(Role.ADMIN)
    job = await benchmarking.start_benchmark(info.context.pool, list(model_ids), dataset_id, limit, principal.name)
    return job_to_schema(job)


@strawberry.type
class Query:
    models: list[Model] = strawberry.field(resolver=models, description="Registered models, newest first.")
    model: Model | None = strawberry.field(resolver=model)
    active_model: ActiveModel | None = strawberry.field(
        resolver=active_model, description="The purpose's active model with its fallbacks; null before the first."
    )
    benchmarks: list[BenchmarkResult] = strawberry.field(
        resolver=benchmarks, description="Latest benchmarks per model and dataset version, side by side."
    )


@strawberry.type
class Mutation:
    register_model: Model = strawberry.field(
        resolver=register_model, description="Add a base or external model (ADMIN); once per provider model id."
    )
    retire_model: Model = strawberry.field(
        resolver=retire_model, description="Hide a model from new activation; it and its history stay (ADMIN)."
    )
    set_active_model: ActiveModel = strawberry.field(
        resolver=set_active_model,
        description="Make a model the purpose's active one; every change is kept with who, when and why (ADMIN).",
    )
    rollback_active_model: ActiveModel = strawberry.field(
        resolver=rollback_active_model,
        description="Return the purpose to the model active before, in one step; recorded too (ADMIN).",
    )
    benchmark_models: Job = strawberry.field(
        resolver=benchmark_models,
        description="A BENCHMARK job: each model answers the version's validation requests (first `limit`, at most "
        "5,000), scored against the recorded plans (ADMIN).",
    )
