"""Resolvers for recording and reading examples."""

from __future__ import annotations

from typing import cast

import strawberry

from tuneyard.core.graphql.connection import PageInfo
from tuneyard.core.graphql.context import Info
from tuneyard.core.graphql.selection import columns_at
from tuneyard.core.principal import Role
from tuneyard.curation.resolvers import as_filter
from tuneyard.examples import service as service
from tuneyard.examples.filter_input import ExampleFilter
from tuneyard.examples.filter_sql import compile_filter
from tuneyard.examples.models import NewExample
from tuneyard.examples.ordering import ExampleOrder
from tuneyard.examples.types import (
    EXAMPLE_COLUMNS,
    Example,
    ExampleConnection,
    ExampleInput,
    RecordExamplesResult,
    example_from,
)


async def record_examples(info: Info, examples: list[ExampleInput]) -> RecordExamplesResult:
    info.context.require(Role.CURATOR)
    batch = cast(list[NewExample], examples)  # ExampleInput builds NewExample directly (see schema.examples)
    result = await service.record(info.context.pool, batch)
    return RecordExamplesResult(inserted=result.inserted, updated=result.updated, unchanged=result.unchanged)


async def example(info: Info, id: strawberry.ID) -> Example | None:
    info.context.require(Role.READER)
    columns = columns_at(info.selected_fields, ("example",), EXAMPLE_COLUMNS)
    found = await service.get(info.context.pool, id, columns)
    return None if found is None else example_from(found)


async def examples(
    info: Info,
    filter: ExampleFilter | None = None,
    order_by: ExampleOrder | None = ExampleOrder.CREATED_AT_DESC,
    first: int | None = 50,
    after: str | None = None,
) -> ExampleConnection:
    info.context.require(Role.READER)
    pool = info.context.pool
    selections = info.selected_fields
    columns = columns_at(selections, ("examples", "nodes"), EXAMPLE_COLUMNS)
    columns |= columns_at(selections, ("examples", "edges", "node"), EXAMPLE_COLUMNS)
    where, params = compile_filter(as_filter(filter))
    page = await service.page(
        pool,
        where=where,
        params=params,
        order=order_by or ExampleOrder.CREATED_AT_DESC,
        first=50 if first is None else first,
        after=after,
        columns=columns,
    )
    return ExampleConnection(
        nodes=[example_from(e) for e in page.examples],
        cursors=page.cursors,
        page_info=PageInfo(has_next_page=page.has_next_page, end_cursor=page.cursors[-1] if page.cursors else None),
        count_total=lambda: service.count(pool, where, params),
    )


@strawberry.type
class Query:
    example: Example | None = strawberry.field(resolver=example)
    examples: ExampleConnection = strawberry.field(resolver=examples)


@strawberry.type
class Mutation:
    record_examples: RecordExamplesResult = strawberry.field(
        resolver=record_examples,
        description="Upsert up to 1000 examples by executionId; a batch with any invalid example is rejected whole.",
    )
