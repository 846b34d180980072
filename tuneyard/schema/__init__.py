"""The Strawberry schema: root types wired to resolvers."""

from __future__ import annotations

from datetime import datetime

import strawberry
from graphql import GraphQLError
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from tuneyard.resolvers import curation, examples
from tuneyard.schema.curation import ArchiveResult, ExampleStats, TagOperation
from tuneyard.schema.errors import ErrorCodes
from tuneyard.schema.examples import Example, ExampleConnection, RecordExamplesResult
from tuneyard.schema.scalars import DateTime


@strawberry.type
class Query:
    example: Example | None = strawberry.field(resolver=examples.example)
    examples: ExampleConnection = strawberry.field(resolver=examples.examples)
    stats: ExampleStats = strawberry.field(resolver=curation.stats)
    tag_operations: list[TagOperation] = strawberry.field(
        resolver=curation.tag_operations, description="Tag operations, newest first (first: at most 500)."
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


class Schema(strawberry.Schema):
    """Errors are logged once, by ErrorCodes, and only when unexpected."""

    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        return None


schema = Schema(
    query=Query,
    mutation=Mutation,
    # Factories: the caches live at module level, shared by the fresh extension each request gets.
    config=StrawberryConfig(scalar_map={datetime: DateTime}),
    extensions=[lambda: ParserCache(maxsize=1024), lambda: ValidationCache(maxsize=1024), ErrorCodes],
)
