"""Resolvers for providers."""

from __future__ import annotations

import strawberry

from tuneyard.core.graphql.context import Info
from tuneyard.core.principal import Role
from tuneyard.providers import service
from tuneyard.providers.types import ProviderInfoType, info_to_schema


async def providers(info: Info) -> list[ProviderInfoType]:
    info.context.require(Role.READER)
    return [info_to_schema(p) for p in await service.describe(info.context.settings)]


@strawberry.type
class Query:
    providers: list[ProviderInfoType] = strawberry.field(
        resolver=providers,
        description="Every provider as this installation sees it today: configured or not, whether it can "
        "fine-tune now, its base models with dated prices and shutdown dates, and the notes that explain.",
    )
