"""GraphQL types for stats, tag operations, archiving and purging (a bulk one may come with its job)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from tuneyard.core.graphql.context import Info
from tuneyard.curation.stats import Stats
from tuneyard.jobs import service as jobs
from tuneyard.jobs.types import Job, to_schema


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


async def _job(info: Info, job_id: int | None) -> Job | None:
    found = None if job_id is None else await jobs.get(info.context.pool, job_id)
    return None if found is None else to_schema(found)


@strawberry.type
class TagOperation:
    id: strawberry.ID
    added: list[str]
    removed: list[str]
    affected_count: int = strawberry.field(
        description="Examples whose tags this operation changed; while its job applies it, those changed so far."
    )
    note: str | None
    created_at: datetime
    undone_at: datetime | None = strawberry.field(
        description="When it was undone; for an undo run as a job (undoJob), when that job's last chunk was done."
    )
    purged_count: int = strawberry.field(
        description="Examples this operation changed that were purged since; an operation with any cannot be undone."
    )
    complete: bool = strawberry.field(
        description="True once every example it selected was done: at once for an operation applied inline; for "
        "one applied by a job, when the job's last chunk is done. A job cancelled or failed leaves it false for good: "
        "the operation then changed the examples of the chunks done only (affectedCount), and undoing it undoes "
        "exactly those."
    )
    job_id: strawberry.Private[int | None]
    undo_job_id: strawberry.Private[int | None]

    @strawberry.field(
        description="The CURATION job applying it when more examples matched than TUNEYARD_BULK_JOB_THRESHOLD "
        "(10,000 unless set); null when it was applied inline."
    )
    async def job(self, info: Info) -> Job | None:
        return await _job(info, self.job_id)

    @strawberry.field(
        description="The CURATION job undoing it (or that last tried to) when it changed more examples than "
        "TUNEYARD_BULK_JOB_THRESHOLD; null when it was undone inline or not at all."
    )
    async def undo_job(self, info: Info) -> Job | None:
        return await _job(info, self.undo_job_id)


@strawberry.type
class ArchiveResult:
    affected_count: int = strawberry.field(
        description="Examples whose archived flag changed; 0 when a job does it (see `job`: its result counts them)."
    )
    job: Job | None = strawberry.field(
        description="The CURATION job doing it when more examples would change than TUNEYARD_BULK_JOB_THRESHOLD "
        "(10,000 unless set); null when it was done inline. Its result: {action, affectedCount, chunks, complete}."
    )


@strawberry.type
class PurgeResult:
    deleted_count: int = strawberry.field(
        description='Examples deleted; in a dry run (confirm: ""), the number it would delete: the confirm to send.'
    )
    kept_in_datasets: int = strawberry.field(
        description="Archived examples matching the filter that were kept because a dataset version (deleted or not) "
        "holds them."
    )
