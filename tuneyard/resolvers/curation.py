"""Resolvers for stats, tagging and archiving."""

from __future__ import annotations

from typing import cast

import strawberry
from strawberry.types.nodes import SelectedField

from tuneyard.domain.auth import Role
from tuneyard.domain.curation import TagOperation as DomainTagOperation
from tuneyard.domain.filters import Filter
from tuneyard.resolvers.context import Info
from tuneyard.schema.curation import ArchiveResult, ExampleStats, TagOperation
from tuneyard.schema.filters import ExampleFilter
from tuneyard.services import curation as service


def _operation(op: DomainTagOperation) -> TagOperation:
    return TagOperation(
        id=strawberry.ID(str(op.id)), added=op.added, removed=op.removed, affected_count=op.affected_count,
        note=op.note, created_at=op.created_at, undone_at=op.undone_at,
    )  # fmt: skip


def as_filter(value: ExampleFilter | None) -> Filter | None:
    """ExampleFilter arrives as the filter document (see schema.filters)."""
    return cast(Filter | None, value)


def stats(info: Info, filter: ExampleFilter | None = None) -> ExampleStats:
    info.context.require(Role.READER)
    return ExampleStats(stats=service.Stats(info.context.pool, as_filter(filter), _histogram_buckets(info)))


def _histogram_buckets(info: Info) -> int:
    """The bucket count of the (first) selected qualityHistogram, so the one scan can compute it too."""
    for field in info.selected_fields:
        for selection in field.selections:
            if isinstance(selection, SelectedField) and selection.name == "qualityHistogram":
                buckets = selection.arguments.get("buckets", 5)
                return 5 if buckets is None else int(buckets)
    return 5


async def tag_operations(info: Info, first: int | None = 50) -> list[TagOperation]:
    info.context.require(Role.READER)
    return [_operation(op) for op in await service.tag_operations(info.context.pool, 50 if first is None else first)]


async def tag_examples(
    info: Info,
    where: ExampleFilter,
    add: list[str] | None = None,
    remove: list[str] | None = None,
    note: str | None = None,
) -> TagOperation:
    info.context.require(Role.CURATOR)
    op = await service.tag_examples(info.context.pool, as_filter(where) or {}, add, remove, note)
    return _operation(op)


async def undo_tag_operation(info: Info, id: strawberry.ID) -> TagOperation:
    info.context.require(Role.CURATOR)
    return _operation(await service.undo_tag_operation(info.context.pool, id))


async def archive_examples(info: Info, where: ExampleFilter) -> ArchiveResult:
    info.context.require(Role.CURATOR)
    return ArchiveResult(affected_count=await service.archive(info.context.pool, as_filter(where) or {}))


async def restore_examples(info: Info, where: ExampleFilter) -> ArchiveResult:
    info.context.require(Role.CURATOR)
    return ArchiveResult(affected_count=await service.restore(info.context.pool, as_filter(where) or {}))
