"""Resolvers for recording and reading examples."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import strawberry

from tuneyard.core.audit import FIRST_ITEMS, Summary, audited
from tuneyard.core.graphql.connection import Connection
from tuneyard.core.graphql.context import Info
from tuneyard.core.principal import Role
from tuneyard.examples import service
from tuneyard.examples.models import NewExample
from tuneyard.examples.ordering import ExampleOrder
from tuneyard.examples.types import (
    Example,
    ExampleFilter,
    ExampleInput,
    RecordExamplesResult,
    as_filter,
    example_from,
    selected_columns,
)


def _record_summary(arguments: Mapping[str, Any]) -> Summary:
    """A batch in the audit log: its size and its first executionIds (the examples themselves are in the table)."""
    batch = arguments["examples"]
    return {"examples": {"count": len(batch), "first": [e.execution_id for e in batch[:FIRST_ITEMS]]}}


@audited(summary=_record_summary)
async def record_examples(info: Info, examples: list[ExampleInput]) -> RecordExamplesResult:
    info.context.require(Role.CURATOR)
    batch = cast(list[NewExample], examples)  # ExampleInput builds NewExample directly (see examples.types)
    result = await service.record(info.context.pool, batch)
    return RecordExamplesResult(inserted=result.inserted, updated=result.updated, unchanged=result.unchanged)


async def example(info: Info, id: strawberry.ID) -> Example | None:
    info.context.require(Role.READER)
    found = await service.get(info.context.pool, id, selected_columns(info))
    return None if found is None else example_from(found)


async def examples(
    info: Info,
    filter: ExampleFilter | None = None,
    order_by: ExampleOrder | None = ExampleOrder.CREATED_AT_DESC,
    first: int | None = 50,
    after: str | None = None,
) -> Connection[Example]:
    info.context.require(Role.READER)
    pool, where = info.context.pool, service.compile_filter(as_filter(filter))
    order = order_by or ExampleOrder.CREATED_AT_DESC
    page = await service.page(pool, where, order, 50 if first is None else first, after, selected_columns(info))
    return Connection[Example].of(page, lambda: service.count(pool, where))


@strawberry.type
class Query:
    example: Example | None = strawberry.field(resolver=example)
    examples: Connection[Example] = strawberry.field(resolver=examples)


@strawberry.type
class Mutation:
    record_examples: RecordExamplesResult = strawberry.field(
        resolver=record_examples,
        description="Upsert up to 1000 examples by executionId; a batch with any invalid example is rejected whole.",
    )
