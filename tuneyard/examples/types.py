"""GraphQL types for examples."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any, cast

import strawberry
from strawberry.scalars import JSON

from tuneyard.core.graphql.connection import PageInfo
from tuneyard.examples.models import Example as DomainExample
from tuneyard.examples.models import NewExample
from tuneyard.examples.ordering import ExampleOrder as DomainExampleOrder

ExampleOrder = strawberry.enum(DomainExampleOrder, name="ExampleOrder")


@strawberry.type
class Example:
    id: strawberry.ID
    execution_id: str
    user_request: str
    intent: str | None
    platform: str | None
    business_state: JSON | None
    execution_plan: JSON | None
    execution_result: JSON | None
    quality_score: float | None
    success: bool | None
    tags: list[str]
    archived: bool
    post_publication_metrics: JSON | None
    patterns_discovered: list[str] | None
    created_at: datetime
    updated_at: datetime


# GraphQL field name -> examples column, for selecting only what a query asks for.
EXAMPLE_COLUMNS = {
    "executionId": "execution_id",
    "userRequest": "user_request",
    "intent": "intent",
    "platform": "platform",
    "businessState": "business_state",
    "executionPlan": "execution_plan",
    "executionResult": "execution_result",
    "qualityScore": "quality_score",
    "success": "success",
    "tags": "tags",
    "archived": "archived",
    "postPublicationMetrics": "post_publication_metrics",
    "patternsDiscovered": "patterns_discovered",
    "createdAt": "created_at",
    "updatedAt": "updated_at",
}


def example_from(example: DomainExample) -> Example:
    """The domain object itself: Strawberry reads Example's fields by attribute, so no copy is made.

    Fields a query did not select are None on it and are never read.
    """
    return cast(Example, example)


@strawberry.input
class ExampleInput:
    execution_id: str
    user_request: str
    intent: str | None = None
    platform: str | None = None
    business_state: JSON | None = None
    execution_plan: JSON | None = None
    execution_result: JSON | None = None
    quality_score: float | None = None
    success: bool | None = None
    tags: list[str] | None = None
    created_at: datetime | None = None
    post_publication_metrics: JSON | None = None
    patterns_discovered: list[str] | None = None


def _new_example(cls: type, value: Mapping[str, Any], context: object) -> NewExample:
    # Every ExampleInput field is a scalar (or list of scalars) that GraphQL has already coerced, so the
    # domain object is built straight from the input value, skipping Strawberry's per-field conversion
    # (which cost ~80 ms per 1,000 examples).
    return NewExample(**{EXAMPLE_COLUMNS[name]: item for name, item in value.items()})


ExampleInput.__strawberry_definition__.from_input = _new_example  # type: ignore[attr-defined]


@strawberry.type
class ExampleEdge:
    cursor: str
    node: Example


@strawberry.type
class ExampleConnection:
    nodes: list[Example]
    cursors: strawberry.Private[list[str]]
    page_info: PageInfo
    count_total: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field
    def edges(self) -> list[ExampleEdge]:
        return [ExampleEdge(cursor=c, node=n) for c, n in zip(self.cursors, self.nodes, strict=True)]

    @strawberry.field(description="Number of examples matching the filter; counted only when asked for.")
    async def total_count(self) -> int:
        return await self.count_total()


@strawberry.type
class RecordExamplesResult:
    inserted: int
    updated: int
    unchanged: int
