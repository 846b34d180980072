"""GraphQL types for stats, tag operations, archiving and purging."""

from __future__ import annotations

from datetime import datetime

import strawberry

from tuneyard.curation.stats import Stats


@strawberry.type
class KeyCount:
    key: str
    count: int


@strawberry.type
class HistogramBucket:
    lower: float
    upper: float
    count: int


@strawberry.type(description="Aggregates over the examples matching a filter; each computed only when selected.")
class ExampleStats:
    stats: strawberry.Private[Stats]

    @strawberry.field(description="Examples matching the filter.")
    async def count(self) -> int:
        return (await self.stats.summary()).count

    @strawberry.field(description="All examples that are not archived: 'using count of totalCount'.")
    async def total_count(self) -> int:
        return await self.stats.total_not_archived()

    @strawberry.field
    async def avg_quality_score(self) -> float | None:
        return (await self.stats.summary()).avg_quality_score

    @strawberry.field(description="Share of successful examples among those whose success is known.")
    async def success_rate(self) -> float | None:
        return (await self.stats.summary()).success_rate

    @strawberry.field(description="Equal-width buckets over [0, 1] (1 to 100 of them); 1.0 is in the last.")
    async def quality_histogram(self, buckets: int | None = 5) -> list[HistogramBucket]:
        found = await self.stats.quality_histogram(5 if buckets is None else buckets)
        return [HistogramBucket(lower=b.lower, upper=b.upper, count=b.count) for b in found]

    @strawberry.field
    async def by_tag(self) -> list[KeyCount]:
        return [KeyCount(key=k, count=c) for k, c in await self.stats.counts_by("tag")]

    @strawberry.field(description="Examples without an intent are not counted here.")
    async def by_intent(self) -> list[KeyCount]:
        return [KeyCount(key=k, count=c) for k, c in await self.stats.counts_by("intent")]

    @strawberry.field(description="Examples without a platform are not counted here.")
    async def by_platform(self) -> list[KeyCount]:
        return [KeyCount(key=k, count=c) for k, c in await self.stats.counts_by("platform")]

    @strawberry.field(
        description="Examples per model id (ExampleInput.modelId), most frequent first; examples without a model id "
        "are not counted here. Compare models with stats(filter: {modelId: {eq: ...}})."
    )
    async def by_model(self) -> list[KeyCount]:
        return [KeyCount(key=k, count=c) for k, c in await self.stats.counts_by("model")]

    @strawberry.field
    async def earliest(self) -> datetime | None:
        return (await self.stats.summary()).earliest

    @strawberry.field
    async def latest(self) -> datetime | None:
        return (await self.stats.summary()).latest


@strawberry.type
class TagOperation:
    id: strawberry.ID
    added: list[str]
    removed: list[str]
    affected_count: int = strawberry.field(description="Examples whose tags this operation changed.")
    note: str | None
    created_at: datetime
    undone_at: datetime | None
    purged_count: int = strawberry.field(
        description="Examples this operation changed that were purged since; an operation with any cannot be undone."
    )


@strawberry.type
class ArchiveResult:
    affected_count: int


@strawberry.type
class PurgeResult:
    deleted_count: int = strawberry.field(
        description='Examples deleted; in a dry run (confirm: ""), the number it would delete: the confirm to send.'
    )
    kept_in_datasets: int = strawberry.field(
        description="Archived examples matching the filter that were kept because a dataset version (deleted or not) "
        "holds them."
    )
