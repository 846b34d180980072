"""Resolvers for stats, tagging, archiving and purging."""

from __future__ import annotations

import strawberry
from strawberry.types.nodes import SelectedField

from tuneyard.core.audit import audited
from tuneyard.core.config import Settings
from tuneyard.core.graphql.context import Info
from tuneyard.core.principal import Role
from tuneyard.curation import service as service
from tuneyard.curation.models import MAX_PURGE, Archived
from tuneyard.curation.models import TagOperation as DomainTagOperation
from tuneyard.curation.stats import Stats
from tuneyard.curation.types import ArchiveResult, ExampleStats, PurgeResult, TagOperation
from tuneyard.examples.types import ExampleFilter, as_filter
from tuneyard.jobs.types import to_schema


def _operation(op: DomainTagOperation) -> TagOperation:
    return TagOperation(
        id=strawberry.ID(str(op.id)), added=op.added, removed=op.removed, affected_count=op.affected_count,
        note=op.note, created_at=op.created_at, undone_at=op.undone_at, purged_count=op.purged_count,
        complete=op.complete, job_id=op.job_id, undo_job_id=op.undo_job_id,
    )  # fmt: skip


def _archived(done: Archived) -> ArchiveResult:
    return ArchiveResult(affected_count=done.affected_count, job=None if done.job is None else to_schema(done.job))


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
    principal = info.context.require(Role.CURATOR)
    op = await service.tag_examples(
        info.context.pool, as_filter(where), add, remove, note,
        threshold=info.context.settings.bulk_job_threshold, created_by=principal.name,
    )  # fmt: skip
    return _operation(op)


@audited
async def undo_tag_operation(info: Info, id: strawberry.ID) -> TagOperation:
    principal = info.context.require(Role.CURATOR)
    threshold = info.context.settings.bulk_job_threshold
    return _operation(
        await service.undo_tag_operation(info.context.pool, id, threshold=threshold, created_by=principal.name)
    )


@audited
async def archive_examples(info: Info, where: ExampleFilter) -> ArchiveResult:
    principal = info.context.require(Role.CURATOR)
    threshold = info.context.settings.bulk_job_threshold
    return _archived(
        await service.set_archived(
            info.context.pool, as_filter(where), True, threshold=threshold, created_by=principal.name
        )
    )


@audited
async def restore_examples(info: Info, where: ExampleFilter) -> ArchiveResult:
    principal = info.context.require(Role.CURATOR)
    threshold = info.context.settings.bulk_job_threshold
    return _archived(
        await service.set_archived(
            info.context.pool, as_filter(where), False, threshold=threshold, created_by=principal.name
        )
    )


@audited
async def purge_examples(info: Info, where: ExampleFilter, confirm: str) -> PurgeResult:
    info.context.require(Role.ADMIN)
    counts = await service.purge(info.context.pool, as_filter(where), confirm)
    return PurgeResult(deleted_count=counts.deletable, kept_in_datasets=counts.kept_in_datasets)


_THRESHOLD = Settings.model_fields["bulk_job_threshold"].default
_BULK = (
    "The job walks the examples in id order, a chunk of ids per transaction, and changes those that match `where` when "
    "their chunk runs, among the examples that existed when it started; `affectedCount` counts what is done so far "
    "(the job's result too). Cancelling it (cancelJob) keeps the chunks done."
)


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
        description="Add and remove tags on every example matching `where`, as one undoable operation. Up to "
        f"TUNEYARD_BULK_JOB_THRESHOLD matching examples ({_THRESHOLD:,} unless set) in one transaction; past it, it "
        f"starts a CURATION job and returns at once (`job`, `complete: false`). {_BULK}",
    )
    undo_tag_operation: TagOperation = strawberry.field(
        resolver=undo_tag_operation,
        description="Take off the tags an operation added and put back those it removed, on the examples it changed. "
        "One that changed more than TUNEYARD_BULK_JOB_THRESHOLD examples is undone by a CURATION job (`undoJob`; "
        "`undoneAt` is set when it is done). Refused (CONFLICT) while a job still applies or undoes the operation: "
        "wait for it, or cancel it first; an operation whose job was cancelled or failed is undone as one, every "
        "chunk it did.",
    )
    archive_examples: ArchiveResult = strawberry.field(
        resolver=archive_examples,
        description="Archive matching examples: out of default views, not deleted. Past TUNEYARD_BULK_JOB_THRESHOLD "
        f"examples to archive ({_THRESHOLD:,} unless set), it starts a CURATION job and returns at once (`job`). "
        f"{_BULK} Undo with restoreExamples.",
    )
    restore_examples: ArchiveResult = strawberry.field(
        resolver=restore_examples,
        description="Un-archive matching examples; here `where.archived` defaults to true. Past "
        "TUNEYARD_BULK_JOB_THRESHOLD examples to restore, a CURATION job, as in archiveExamples.",
    )
    purge_examples: PurgeResult = strawberry.field(
        resolver=purge_examples,
        description="Delete archived examples matching `where` (never one that is not archived, whatever `where` "
        f'says) that no dataset version holds, at most {MAX_PURGE:,} per call. `confirm: ""` is a dry run that '
        "only counts; then `confirm` must be its `deletedCount`, as a decimal string. ADMIN only.",
    )
