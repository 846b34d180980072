"""Curation: bulk tagging with undo, archive and restore, and stats, all over an ExampleFilter."""

from __future__ import annotations

import asyncio

import asyncpg

from tuneyard.domain.curation import MAX_HISTOGRAM_BUCKETS, Bucket, Summary, TagOperation
from tuneyard.domain.examples import normalize_tags
from tuneyard.domain.filters import Filter, compile_filter
from tuneyard.domain.pagination import check_page_size
from tuneyard.errors import ConflictError, NotFoundError, ValidationError
from tuneyard.repositories import curation as repo


async def tag_examples(
    pool: asyncpg.Pool, where: Filter, add: list[str] | None, remove: list[str] | None, note: str | None
) -> TagOperation:
    """Add and remove tags on every example matching `where`, recorded as one undoable operation."""
    added, removed = normalize_tags(add, "add"), normalize_tags(remove, "remove")
    if not added and not removed:
        raise ValidationError("add, remove: give at least one tag to add or remove")
    both = sorted(set(added) & set(removed))
    if both:
        raise ValidationError(f"add, remove: a tag cannot be both added and removed: {', '.join(both)}")
    condition, params = compile_filter(where)
    return await repo.tag(pool, condition, params, added, removed, note, dict(where))


async def undo_tag_operation(pool: asyncpg.Pool, operation_id: str) -> TagOperation:
    number = _operation_number(operation_id)
    undone = await repo.undo(pool, number)
    if undone is not None:
        return undone
    existing = await repo.get_operation(pool, number)
    if existing is None:
        raise NotFoundError(f"no tag operation with id {operation_id!r}")
    raise ConflictError(f"tag operation {operation_id} was already undone at {existing.undone_at:%Y-%m-%d %H:%M:%S}")


async def tag_operations(pool: asyncpg.Pool, first: int) -> list[TagOperation]:
    check_page_size(first)
    return await repo.list_operations(pool, first)


async def archive(pool: asyncpg.Pool, where: Filter) -> int:
    condition, params = compile_filter(where)
    return await repo.set_archived(pool, condition, params, True)


async def restore(pool: asyncpg.Pool, where: Filter) -> int:
    """Un-archive the archived examples matching `where` (its `archived` defaults to true here)."""
    condition, params = compile_filter(where, archived_default=True)
    return await repo.set_archived(pool, condition, params, False)


def _operation_number(operation_id: str) -> int:
    try:
        return int(operation_id)
    except ValueError:
        raise NotFoundError(f"no tag operation with id {operation_id!r}") from None


class Stats:
    """Aggregates of the examples matching a filter, each computed in SQL only when asked for."""

    def __init__(self, pool: asyncpg.Pool, where: Filter | None) -> None:
        self._pool = pool
        self._condition, self._params = compile_filter(where)
        self._summary: asyncio.Task[Summary] | None = None

    async def summary(self) -> Summary:
        # count, averages and dates come from one scan, however many of them are selected.
        if self._summary is None:
            self._summary = asyncio.ensure_future(repo.summary(self._pool, self._condition, self._params))
        return await self._summary

    async def total_not_archived(self) -> int:
        return await repo.count_not_archived(self._pool)

    async def quality_histogram(self, buckets: int) -> list[Bucket]:
        if not 1 <= buckets <= MAX_HISTOGRAM_BUCKETS:
            raise ValidationError(f"buckets: must be between 1 and {MAX_HISTOGRAM_BUCKETS}, got {buckets}")
        counts = await repo.quality_histogram(self._pool, self._condition, self._params, buckets)
        return [Bucket(lower=i / buckets, upper=(i + 1) / buckets, count=counts.get(i + 1, 0)) for i in range(buckets)]

    async def counts_by(self, grouping: str) -> list[tuple[str, int]]:
        return await repo.counts_by(self._pool, grouping, self._condition, self._params)
