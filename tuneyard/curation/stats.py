"""Stats: aggregates of the examples matching a filter, computed in SQL, each query run only when needed."""

from __future__ import annotations

import asyncio

from tuneyard.core.db import Pool
from tuneyard.core.errors import ValidationError
from tuneyard.curation import stats_repository as stats_sql
from tuneyard.curation.models import MAX_HISTOGRAM_BUCKETS, Aggregate, Bucket, Summary
from tuneyard.examples.service import Filter, compile_filter


class Stats:
    """Aggregates of the examples matching a filter, computed in SQL, each query run only when needed.

    Everything but the tag counts and the total comes from one scan (see stats_repository.aggregates), made once however
    many of those fields are selected. `buckets` is the histogram size that scan uses.
    """

    def __init__(self, pool: Pool, where: Filter, buckets: int = 5) -> None:
        _check_buckets(buckets)
        self._pool = pool
        self._where = compile_filter(where)
        self._buckets = buckets
        self._aggregates: asyncio.Task[list[Aggregate]] | None = None

    async def _grouped(self, grouping: str) -> list[Aggregate]:
        if self._aggregates is None:
            self._aggregates = asyncio.ensure_future(stats_sql.aggregates(self._pool, self._where, self._buckets))
        return [a for a in await self._aggregates if a.grouping == grouping]

    async def summary(self) -> Summary:
        return (await self._grouped("all"))[0].summary  # the () grouping set always yields its row

    async def total_not_archived(self) -> int:
        return await stats_sql.count_not_archived(self._pool)

    async def quality_histogram(self, buckets: int) -> list[Bucket]:
        _check_buckets(buckets)
        if buckets == self._buckets:
            counts = {a.key: a.summary.count for a in await self._grouped("bucket")}
        else:
            counts = await stats_sql.quality_histogram(self._pool, self._where, buckets)
        return [Bucket(lower=i / buckets, upper=(i + 1) / buckets, count=counts.get(i + 1, 0)) for i in range(buckets)]

    async def counts_by(self, grouping: str) -> list[tuple[str, int]]:
        """(key, count) by "tag", "intent", "platform" or "model", most frequent first; missing keys are left out."""
        if grouping == "tag":
            found = await stats_sql.counts_by_tag(self._pool, self._where)
        else:
            found = [(a.key, a.summary.count) for a in await self._grouped(grouping) if a.key is not None]
        return sorted(found, key=lambda pair: (-pair[1], pair[0]))


def _check_buckets(buckets: int) -> None:
    if not 1 <= buckets <= MAX_HISTOGRAM_BUCKETS:
        raise ValidationError(f"buckets: must be between 1 and {MAX_HISTOGRAM_BUCKETS}, got {buckets}")
