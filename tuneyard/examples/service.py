"""Recording and reading examples."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from tuneyard.core.errors import NotFoundError
from tuneyard.examples import repository as repo
from tuneyard.examples.models import Example, NewExample, RecordResult, batch_columns
from tuneyard.examples.ordering import ExampleOrder, check_page_size, decode_cursor, encode_cursor


@dataclass(slots=True)
class ExamplePage:
    examples: list[Example]
    cursors: list[str]
    has_next_page: bool


async def record(pool: asyncpg.Pool, examples: list[NewExample]) -> RecordResult:
    """Validate the whole batch, then upsert it in one statement: all of it or none of it."""
    return await repo.upsert(pool, batch_columns(examples))


async def get(pool: asyncpg.Pool, example_id: str, columns: Iterable[str]) -> Example | None:
    try:
        number = int(example_id)
    except ValueError:
        raise NotFoundError(f"no example with id {example_id!r}") from None
    return await repo.get(pool, number, columns)


async def page(
    pool: asyncpg.Pool,
    *,
    where: str,
    params: Sequence[Any],
    order: ExampleOrder,
    first: int,
    after: str | None,
    columns: Iterable[str],
) -> ExamplePage:
    """One keyset page of the examples matching a compiled filter."""
    check_page_size(first)
    conditions, values = [where], list(params)
    if after is not None:
        position = decode_cursor(order, after)
        conditions.append(order.after_sql(len(values) + 1))
        values += [position.key, position.id]
    needed = {*columns, "created_at", "quality_score"}
    rows = await repo.fetch_page(pool, needed, " AND ".join(conditions), values, order.order_by_sql(), first + 1)
    examples = [repo.to_example(r) for r in rows[:first]]
    cursors = [encode_cursor(order, order.key_of(e.created_at, e.quality_score), e.id) for e in examples]  # type: ignore[arg-type]
    return ExamplePage(examples, cursors, has_next_page=len(rows) > first)


async def count(pool: asyncpg.Pool, where: str, params: Sequence[Any]) -> int:
    return await repo.count(pool, where, params)
