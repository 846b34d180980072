"""Resolvers for registered models."""

from __future__ import annotations

import strawberry

from tuneyard.core.graphql.context import Info
from tuneyard.core.principal import Role
from tuneyard.providers.models import Provider
from tuneyard.registry import service
from tuneyard.registry.types import Model, to_schema


async def models(info: Info, provider: Provider | None = None, include_retired: bool | None = False) -> list[Model]:
    info.context.require(Role.READER)
    return [to_schema(m) for m in await service.listed(info.context.pool, provider, bool(include_retired))]


async def model(info: Info, id: strawberry.ID) -> Model | None:
    info.context.require(Role.READER)
    found = await service.get(info.context.pool, id)
    return None if found is None else to_schema(found)


@strawberry.type
class Query:
    models: list[Model] = strawberry.field(resolver=models, description="Registered models, newest first.")
    model: Model | None = strawberry.field(resolver=model)
