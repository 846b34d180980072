"""The Strawberry schema: root types wired to resolvers."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime

import strawberry
from graphql import GraphQLError
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from tuneyard.resolvers import curation, examples
from tuneyard.resolvers import datasets as dataset_resolvers
from tuneyard.resolvers import jobs as job_resolvers
from tuneyard.schema.curation import ArchiveResult, ExampleStats, TagOperation
from tuneyard.schema.datasets import Dataset, DatasetDiff
from tuneyard.schema.errors import ErrorCodes
from tuneyard.schema.examples import Example, ExampleConnection, RecordExamplesResult
from tuneyard.schema.execution import FastListExecutor
from tuneyard.schema.jobs import Job, JobConnection
from tuneyard.schema.scalars import DateTime


@strawberry.type
class Query:
    example: Example | None = strawberry.field(resolver=examples.example)
    examples: ExampleConnection = strawberry.field(resolver=examples.examples)
    stats: ExampleStats = strawberry.field(resolver=curation.stats)
    tag_operations: list[TagOperation] = strawberry.field(
        resolver=curation.tag_operations, description="Tag operations, newest first (first: at most 500)."
    )
    datasets: list[Dataset] = strawberry.field(
        resolver=dataset_resolvers.datasets, description="Dataset versions by name, newest version first."
    )
    dataset: Dataset | None = strawberry.field(resolver=dataset_resolvers.dataset)
    dataset_diff: DatasetDiff = strawberry.field(
        resolver=dataset_resolvers.dataset_diff, description="Row-level differences between any two versions."
    )
    job: Job | None = strawberry.field(resolver=job_resolvers.job)
    jobs: JobConnection = strawberry.field(
        resolver=job_resolvers.jobs, description="Jobs newest first, optionally only some statuses and kinds."
    )


@strawberry.type
class Mutation:
    record_examples: RecordExamplesResult = strawberry.field(
        resolver=examples.record_examples,
        description="Upsert up to 1000 examples by executionId; a batch with any invalid example is rejected whole.",
    )
    tag_examples: TagOperation = strawberry.field(
        resolver=curation.tag_examples,
        description="Add and remove tags on every example matching `where`, as one undoable operation.",
    )
    undo_tag_operation: TagOperation = strawberry.field(
        resolver=curation.undo_tag_operation,
        description="Take off the tags an operation added and put back those it removed, on the examples it changed.",
    )
    archive_examples: ArchiveResult = strawberry.field(
        resolver=curation.archive_examples, description="Archive matching examples: out of default views, not deleted."
    )
    restore_examples: ArchiveResult = strawberry.field(
        resolver=curation.restore_examples,
        description="Un-archive matching examples; here `where.archived` defaults to true.",
    )
    create_dataset: Dataset = strawberry.field(
        resolver=dataset_resolvers.create_dataset,
        description="Freeze the non-archived examples matching `where` as the next version of `name`; it becomes "
        "the current one (CURATOR).",
    )
    set_current_dataset: Dataset = strawberry.field(
        resolver=dataset_resolvers.set_current_dataset,
        description="Make a version the current one of its name, e.g. to roll back (CURATOR).",
    )
    delete_dataset: Dataset = strawberry.field(
        resolver=dataset_resolvers.delete_dataset,
        description="Soft delete: history, files and diffs stay; it can no longer be exported (CURATOR).",
    )
    export_dataset: Job = strawberry.field(
        resolver=dataset_resolvers.export_dataset,
        description="Start an EXPORT job writing the version's JSONL file(s) in `format` (CURATOR).",
    )
    cancel_job: Job = strawberry.field(
        resolver=job_resolvers.cancel_job,
        description="Cancel a queued job at once, or ask a running one to stop at its next checkpoint (CURATOR).",
    )
    check_examples: Job = strawberry.field(
        resolver=job_resolvers.check_examples,
        description="Start a MAINTENANCE job that checks every example's tags are a sorted set of non-blank labels, "
        "chunkSize examples at a time with pauseMs between chunks; with repair, fixes them (CURATOR).",
    )


@strawberry.type
class Subscription:
    job_progress: AsyncGenerator[Job, None] = strawberry.subscription(
        resolver=job_resolvers.job_progress,
        description="The job as it is now, then after each change; completes after a final status.",
    )
    job_updates: AsyncGenerator[Job, None] = strawberry.subscription(
        resolver=job_resolvers.job_updates, description="Every change of every job (of the given kinds)."
    )


class Schema(strawberry.Schema):
    """Errors are logged once, by ErrorCodes, and only when unexpected."""

    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        return None


schema = Schema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    # Factories: the caches live at module level, shared by the fresh extension each request gets.
    config=StrawberryConfig(scalar_map={datetime: DateTime}),
    execution_context_class=FastListExecutor,
    extensions=[lambda: ParserCache(maxsize=1024), lambda: ValidationCache(maxsize=1024), ErrorCodes],
)
