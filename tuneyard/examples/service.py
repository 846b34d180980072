"""Recording and reading examples, and compiling an ExampleFilter for the domains that act on a selection."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from tuneyard.core.db import Condition, Pool
from tuneyard.core.ids import parse_id
from tuneyard.core.page import Count, Page, check_page_size
from tuneyard.examples import filter_sql
from tuneyard.examples import repository as repo
from tuneyard.examples.filter_sql import Filter
from tuneyard.examples.json_values import stored_problem
from tuneyard.examples.models import Example, NewExample, RecordResult, batch_columns
from tuneyard.examples.ordering import ExampleOrder, decode_cursor, encode_cursor
from tuneyard.examples.summary_filter import DAY_ROWS, compile_summary_filter, summary_union

# A filter the summary cannot answer (a word search, a list of ids) is counted for at most this long; past it the
# count is PostgreSQL's estimate, marked as one. Counting the million examples with a common word reads them all.
COUNT_BUDGET_MS = 300

__all__ = [
    "DAY_ROWS",
    "Condition",
    "Filter",
    "compile_filter",
    "count",
    "fold_summary",
    "get",
    "page",
    "record",
    "stored_problem",
    "summary_union",
]


def compile_filter(spec: Filter | None, *, archived_default: bool = False) -> Condition:
    """The SQL condition over examples `e` (see filter_sql), with its equivalent over the summary where there is one."""
    rows = filter_sql.compile_filter(spec, archived_default=archived_default)
    return replace(rows, summary=compile_summary_filter(spec, rows, archived_default=archived_default))


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


async def fold_summary(pool: Pool) -> None:
    """Fold the example summary's pending changes into it, when there are enough to be worth it."""
    await repo.fold_summary(pool)


async def count(pool: Pool, where: Condition) -> Count:
    """How many examples match: exact where the summary answers the filter or the count takes at most COUNT_BUDGET_MS,
    else PostgreSQL's estimate (`exact` false)."""
    return await repo.count(pool, where, COUNT_BUDGET_MS)
