"""Curation: bulk tagging with undo, archive and restore, and stats, all over an ExampleFilter."""

from __future__ import annotations

import asyncio

from tuneyard.core.db import Pool
from tuneyard.core.errors import ConflictError, NotFoundError, ValidationError
from tuneyard.core.ids import parse_id
from tuneyard.core.page import check_page_size
from tuneyard.curation import repository as repo
from tuneyard.curation.models import MAX_HISTOGRAM_BUCKETS, Aggregate, Bucket, Summary, TagOperation
from tuneyard.examples.models import normalize_tags
from tuneyard.examples.service import Filter, compile_filter


async def tag_examples(
    pool: Pool, where: Filter, add: list[str] | None, remove: list[str] | None, note: str | None
) -> TagOperation:
    """Add and remove tags on every example matching `where`, recorded as one undoable operation."""
    added, removed = normalize_tags(add, "add"), normalize_tags(remove, "remove")
    if not added and not removed:
        raise ValidationError("add, remove: give at least one tag to add or remove")
    both = sorted(set(added) & set(removed))
    if both:
        raise ValidationError(f"add, remove: a tag cannot be both added and removed: {', '.join(both)}")
    return await repo.tag(pool, compile_filter(where), added, removed, note, dict(where))


async def undo_tag_operation(pool: Pool, operation_id: str) -> TagOperation:
    number = parse_id(operation_id, "tag operation")
    undone = await repo.undo(pool, number)
    if undone is not None:
        return undone
    existing = await repo.get_operation(pool, number)
    if existing is None:
        raise NotFoundError(f"no tag operation with id {operation_id!r}")
    raise ConflictError(f"tag operation {operation_id} was already undone at {existing.undone_at:%Y-%m-%d %H:%M:%S}")


async def tag_operations(pool: Pool, first: int) -> list[TagOperation]:
    check_page_size(first)
    return await repo.list_operations(pool, first)


async def archive(pool: Pool, where: Filter) -> int:
    return await repo.set_archived(pool, compile_filter(where), True)


async def restore(pool: Pool, where: Filter) -> int:
    """Un-archive the archived examples matching `where` (its `archived` defaults to true here)."""
    return await repo.set_archived(pool, compile_filter(where, archived_default=True), False)


class Stats:
    """Aggregates of the examples matching a filter, computed in SQL, each query run only when needed.

    Everything but the tag counts and the total comes from one scan (see repositories.curation.aggregates),
    made once however many of those fields are selected. `buckets` is the histogram size that scan uses.
    """

    def __init__(self, pool: Pool, where: Filter, buckets: int = 5) -> None:
        _check_buckets(buckets)
        self._pool = pool
        self._where = compile_filter(where)
        self._buckets = buckets
        self._aggregates: asyncio.Task[list[Aggregate]] | None = None

    async def _grouped(self, grouping: str) -> list[Aggregate]:
        if self._aggregates is None:
            self._aggregates = asyncio.ensure_future(repo.aggregates(self._pool, self._where, self._buckets))
        return [a for a in await self._aggregates if a.grouping == grouping]

    async def summary(self) -> Summary:
        return (await self._grouped("all"))[0].summary  # the () grouping set always yields its row

    async def total_not_archived(self) -> int:
        return await repo.count_not_archived(self._pool)

    async def quality_histogram(self, buckets: int) -> list[Bucket]:
        _check_buckets(buckets)
        if buckets == self._buckets:
            counts = {a.key: a.summary.count for a in await self._grouped("bucket")}
        else:
            counts = await repo.quality_histogram(self._pool, self._where, buckets)
        return [Bucket(lower=i / buckets, upper=(i + 1) / buckets, count=counts.get(i + 1, 0)) for i in range(buckets)]

    async def counts_by(self, grouping: str) -> list[tuple[str, int]]:
        """(key, count) by "tag", "intent", "platform" or "model", most frequent first; missing keys are left out."""
        if grouping == "tag":
            return await repo.counts_by_tag(self._pool, self._where)
        found = [(a.key, a.summary.count) for a in await self._grouped(grouping) if a.key is not None]
        return sorted(found, key=lambda pair: (-pair[1], pair[0]))


def _check_buckets(buckets: int) -> None:
    if not 1 <= buckets <= MAX_HISTOGRAM_BUCKETS:
        raise ValidationError(f"buckets: must be between 1 and {MAX_HISTOGRAM_BUCKETS}, got {buckets}")
