"""GraphQL types for datasets, their members, diffs and export files."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from tuneyard.core.graphql.connection import Connection
from tuneyard.core.graphql.context import Info
from tuneyard.datasets import service as service
from tuneyard.datasets.exports import service as exports
from tuneyard.datasets.models import Dataset as DomainDataset
from tuneyard.datasets.models import DatasetExport as DomainExport
from tuneyard.datasets.models import DiffCounts, DiffSide, ExportFormat, Split
from tuneyard.examples.types import Example, ExampleFilter, selected_columns

# The domain enums are the GraphQL enums (strawberry.enum registers a class in place).
strawberry.enum(Split, name="Split")
strawberry.enum(ExportFormat, name="ExportFormat")


@strawberry.input
class CreateDatasetInput:
    name: str
    where: ExampleFilter = strawberry.field(description="Which examples to freeze; archived ones never are.")
    description: str | None = None
    validation_fraction: float | None = strawberry.field(
        default=0.0, description="Share of examples in the VALIDATION split, 0 to 0.5."
    )
    seed: int | None = strawberry.field(
        default=0, description="Decides each example's split with its id: same seed, same split in every version."
    )


@strawberry.type
class DatasetExport:
    id: strawberry.ID
    format: ExportFormat
    split: Split | None = strawberry.field(description="The split in this file; null: the whole version.")
    line_count: int
    size_bytes: int
    sha256: str
    download_url: str = strawberry.field(description="GET it with the same bearer token (READER may).")
    created_at: datetime


def export_to_schema(export: DomainExport) -> DatasetExport:
    return DatasetExport(
        id=strawberry.ID(str(export.id)), format=export.format, split=export.split, line_count=export.line_count,
        size_bytes=export.size_bytes, sha256=export.sha256, download_url=export.download_path,
        created_at=export.created_at,
    )  # fmt: skip


@strawberry.type(description="An immutable version: its members and the content they export never change.")
class Dataset:
    record: strawberry.Private[DomainDataset]
    id: strawberry.ID
    name: str
    version: int
    description: str | None
    filter: JSON = strawberry.field(description="The ExampleFilter the version was created with.")
    example_count: int
    train_count: int
    validation_count: int
    validation_fraction: float
    seed: int
    avg_quality_score: float | None
    content_hash: str = strawberry.field(description="sha256 over every member's frozen content and split.")
    is_current: bool
    created_at: datetime
    deleted_at: datetime | None

    @strawberry.field(description="Members as frozen, in example id order (first: at most 500).")
    async def examples(
        self, info: Info, split: Split | None = None, first: int | None = 50, after: str | None = None
    ) -> Connection[Example]:
        pool, dataset_id = info.context.pool, self.record.id
        columns = selected_columns(info)
        page = await service.members(pool, dataset_id, split, 50 if first is None else first, after, columns)
        return Connection[Example].of(page, lambda: service.member_count(pool, dataset_id, split))

    @strawberry.field(description="Files written for this version, oldest first.")
    async def exports(self, info: Info) -> list[DatasetExport]:
        return [export_to_schema(e) for e in await exports.exports_of(info.context.pool, self.record.id)]


def dataset_to_schema(d: DomainDataset) -> Dataset:
    return Dataset(
        record=d, id=strawberry.ID(str(d.id)), name=d.name, version=d.version, description=d.description,
        filter=d.filter, example_count=d.example_count, train_count=d.train_count,
        validation_count=d.validation_count, validation_fraction=d.validation_fraction, seed=d.seed,
        avg_quality_score=d.avg_quality_score, content_hash=d.content_hash, is_current=d.is_current,
        created_at=d.created_at, deleted_at=d.deleted_at,
    )  # fmt: skip


@strawberry.type(
    description="Membership by example id: unchanged = in both versions; changed = those of them whose frozen "
    "content differs. addedCount + unchangedCount = head.exampleCount."
)
class DatasetDiff:
    base: Dataset
    head: Dataset
    counts: strawberry.Private[DiffCounts]

    @strawberry.field(description="Examples in head, not in base.")
    def added_count(self) -> int:
        return self.counts.added

    @strawberry.field(description="Examples in base, not in head.")
    def removed_count(self) -> int:
        return self.counts.removed

    @strawberry.field(description="Examples in both (whether or not their content changed).")
    def unchanged_count(self) -> int:
        return self.counts.unchanged

    @strawberry.field(description="Examples in both whose frozen content differs (a subset of unchanged).")
    def changed_count(self) -> int:
        return self.counts.changed

    async def _side(
        self, info: Info, side: DiffSide, total: int, first: int | None, after: str | None
    ) -> Connection[Example]:
        pool = info.context.pool
        page = await service.diff_page(
            pool, side, self.base.record.id, self.head.record.id, 50 if first is None else first, after,
            selected_columns(info),
        )  # fmt: skip

        async def count_total() -> int:
            return total

        return Connection[Example].of(page, count_total)

    @strawberry.field(description="Examples in head, not in base, as frozen in head.")
    async def added(self, info: Info, first: int | None = 50, after: str | None = None) -> Connection[Example]:
        return await self._side(info, DiffSide.ADDED, self.counts.added, first, after)

    @strawberry.field(description="Examples in base, not in head, as frozen in base.")
    async def removed(self, info: Info, first: int | None = 50, after: str | None = None) -> Connection[Example]:
        return await self._side(info, DiffSide.REMOVED, self.counts.removed, first, after)

    @strawberry.field(description="Examples in both whose content differs, as frozen in head.")
    async def changed(self, info: Info, first: int | None = 50, after: str | None = None) -> Connection[Example]:
        return await self._side(info, DiffSide.CHANGED, self.counts.changed, first, after)
