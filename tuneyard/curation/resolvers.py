"""Resolvers for stats, tagging, archiving and purging."""

from __future__ import annotations

import strawberry
from strawberry.types.nodes import SelectedField

from tuneyard.core.audit import audited
from tuneyard.core.graphql.context import Info
from tuneyard.core.principal import Role
from tuneyard.curation import service as service
from tuneyard.curation.models import MAX_PURGE
from tuneyard.curation.models import TagOperation as DomainTagOperation
from tuneyard.curation.stats import Stats
from tuneyard.curation.types import ArchiveResult, ExampleStats, PurgeResult, TagOperation
from tuneyard.examples.types import ExampleFilter, as_filter


def _operation(op: DomainTagOperation) -> TagOperation:
    return TagOperation(
        id=strawberry.ID(str(op.id)), added=op.added, removed=op.removed, affected_count=op.affected_count,
        note=op.note, created_at=op.created_at, undone_at=op.undone_at, purged_count=op.purged_count,
    )  # fmt: skip


def stats(info: Info, filter: ExampleFilter | None = None) -> ExampleStats:
    info.context.require(Role.READER)
    return ExampleStats(stats=Stats(info.context.pool, as_filter(filter), _histogram_buckets(info)))


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


@audited
async def tag_examples(
    info: Info,
    where: ExampleFilter,
    add: list[str] | None = None,
    remove: list[str] | None = None,
    note: str | None = None,
) -> TagOperation:
    info.context.require(Role.CURATOR)
    op = await service.tag_examples(info.context.pool, as_filter(where), add, remove, note)
    return _operation(op)


@audited
async def undo_tag_operation(info: Info, id: strawberry.ID) -> TagOperation:
    info.context.require(Role.CURATOR)
    return _operation(await service.undo_tag_operation(info.context.pool, id))


@audited
async def archive_examples(info: Info, where: ExampleFilter) -> ArchiveResult:
    info.context.require(Role.CURATOR)
    return ArchiveResult(affected_count=await service.archive(info.context.pool, as_filter(where)))


@audited
async def restore_examples(info: Info, where: ExampleFilter) -> ArchiveResult:
    info.context.require(Role.CURATOR)
    return ArchiveResult(affected_count=await service.restore(info.context.pool, as_filter(where)))


@audited
async def purge_examples(info: Info, where: ExampleFilter, confirm: str) -> PurgeResult:
    info.context.require(Role.ADMIN)
    counts = await service.purge(info.context.pool, as_filter(where), confirm)
    return PurgeResult(deleted_count=counts.deletable, kept_in_datasets=counts.kept_in_datasets)


@strawberry.type
class Query:
    stats: ExampleStats = strawberry.field(resolver=stats)
    tag_operations: list[TagOperation] = strawberry.field(
        resolver=tag_operations, description="Tag operations, newest first (first: at most 500)."
    )


@strawberry.type
class Mutation:
    tag_examples: TagOperation = strawberry.field(
        resolver=tag_examples,
        description="Add and remove tags on every example matching `where`, as one undoable operation.",
    )
    undo_tag_operation: TagOperation = strawberry.field(
        resolver=undo_tag_operation,
        description="Take off the tags an operation added and put back those it removed, on the examples it changed.",
    )
    archive_examples: ArchiveResult = strawberry.field(
        resolver=archive_examples, description="Archive matching examples: out of default views, not deleted."
    )
    restore_examples: ArchiveResult = strawberry.field(
        resolver=restore_examples,
        description="Un-archive matching examples; here `where.archived` defaults to true.",
    )
    purge_examples: PurgeResult = strawberry.field(
        resolver=purge_examples,
        description="Delete archived examples matching `where` (never one that is not archived, whatever `where` "
        f'says) that no dataset version holds, at most {MAX_PURGE:,} per call. `confirm: ""` is a dry run that '
        "only counts; then `confirm` must be its `deletedCount`, as a decimal string. ADMIN only.",
    )
