"""The Strawberry schema: root types wired to resolvers."""

from __future__ import annotations

from datetime import datetime

import strawberry
from graphql import GraphQLError
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.types import ExecutionContext

from tuneyard.resolvers import examples
from tuneyard.schema.errors import ErrorCodes
from tuneyard.schema.examples import Example, ExampleConnection, RecordExamplesResult
from tuneyard.schema.scalars import DateTime


@strawberry.type
class Query:
    example: Example | None = strawberry.field(resolver=examples.example)
    examples: ExampleConnection = strawberry.field(resolver=examples.examples)


@strawberry.type
class Mutation:
    record_examples: RecordExamplesResult = strawberry.field(
        resolver=examples.record_examples,
        description="Upsert up to 1000 examples by executionId; a batch with any invalid example is rejected whole.",
    )


class Schema(strawberry.Schema):
    """Errors are logged once, by ErrorCodes, and only when unexpected."""

    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        return None


schema = Schema(
    query=Query,
    mutation=Mutation,
    # Factories: the caches live at module level, shared by the fresh extension each request gets.
    scalar_overrides={datetime: DateTime},
    extensions=[lambda: ParserCache(maxsize=1024), lambda: ValidationCache(maxsize=1024), ErrorCodes],
)
