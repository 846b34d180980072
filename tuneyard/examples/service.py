"""Recording and reading examples, and compiling an ExampleFilter for the domains that act on a selection."""

from __future__ import annotations

from collections.abc import Iterable

from tuneyard.core.db import Condition, Pool
from tuneyard.core.ids import parse_id
from tuneyard.core.page import Page, check_page_size
from tuneyard.examples import repository as repo
from tuneyard.examples.filter_sql import Filter, compile_filter
from tuneyard.examples.json_values import stored_problem
from tuneyard.examples.models import Example, NewExample, RecordResult, batch_columns
from tuneyard.examples.ordering import ExampleOrder, decode_cursor, encode_cursor

__all__ = ["Condition", "Filter", "compile_filter", "count", "get", "page", "record", "stored_problem"]


async def record(pool: Pool, examples: list[NewExample]) -> RecordResult:
    """Validate the whole batch, then upsert it in one statement: all of it or none of it."""
    return await repo.upsert(pool, batch_columns(examples))


async def get(pool: Pool, example_id: object, columns: Iterable[str]) -> Example | None:
    return await repo.get(pool, parse_id(example_id, "example"), columns)


async def page(
    pool: Pool, where: Condition, order: ExampleOrder, first: int, after: str | None, columns: Iterable[str]
) -> Page[Example]:
    """One keyset page of the examples matching a compiled filter."""
    check_page_size(first)
    position = None if after is None else decode_cursor(order, after)
    found = await repo.page(pool, where, order, position, first + 1, columns)

    def cursor(e: Example) -> str:
        return encode_cursor(order, order.key_of(e.created_at, e.quality_score), e.id)  # type: ignore[arg-type]

    return Page.of(found, first, cursor)


async def count(pool: Pool, where: Condition) -> int:
    return await repo.count(pool, where)
