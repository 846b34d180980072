"""Resolvers for recording and reading examples."""

from __future__ import annotations

from typing import cast

import strawberry

from tuneyard.domain.auth import Role
from tuneyard.domain.examples import NewExample
from tuneyard.domain.filters import compile_filter
from tuneyard.domain.pagination import ExampleOrder
from tuneyard.resolvers.context import Info
from tuneyard.resolvers.curation import as_filter
from tuneyard.resolvers.selection import columns_at
from tuneyard.schema.common import PageInfo
from tuneyard.schema.examples import (
    EXAMPLE_COLUMNS,
    Example,
    ExampleConnection,
    ExampleInput,
    RecordExamplesResult,
    example_from,
)
from tuneyard.schema.filters import ExampleFilter
from tuneyard.services import examples as service


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
