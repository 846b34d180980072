"""GraphQL types for examples and ExampleFilter, and which columns a selection of examples reads."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

import strawberry
from strawberry.scalars import JSON

from tuneyard.core.graphql.context import Info
from tuneyard.core.graphql.selection import selected_names
from tuneyard.examples.models import COLUMN_OF, NewExample
from tuneyard.examples.models import Example as DomainExample
from tuneyard.examples.ordering import ExampleOrder as DomainExampleOrder
from tuneyard.examples.service import Filter

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
    model_id: str | None = strawberry.field(
        description="The model that made this decision (a Tuneyard model id or a provider's model id), if recorded."
    )


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
    model_id: str | None = strawberry.field(
        default=None,
        description="The model that made this decision: a Tuneyard model id or a provider's model id, 1..255 "
        "characters. Content: a re-send with another one (or none) updates the example.",
    )


def _new_example(cls: type, value: Mapping[str, Any], context: object) -> NewExample:
    # Every ExampleInput field is a scalar (or list of scalars) that GraphQL has already coerced, so the
    # domain object is built straight from the input value, skipping Strawberry's per-field conversion
    # (which cost ~80 ms per 1,000 examples).
    return NewExample(**{COLUMN_OF[name]: item for name, item in value.items()})


ExampleInput.__strawberry_definition__.from_input = _new_example  # type: ignore[attr-defined]


@strawberry.type
class RecordExamplesResult:
    inserted: int
    updated: int
    unchanged: int


def selected_columns(info: Info) -> set[str]:
    """The example columns the selection under this field reads: a single example, or a connection's nodes."""
    names = selected_names(info, ((), ("nodes",), ("edges", "node")))
    return {COLUMN_OF[name] for name in names if name in COLUMN_OF}


@strawberry.input
class StringFilter:
    eq: str | None = strawberry.UNSET
    neq: str | None = strawberry.UNSET
    in_: list[str] | None = strawberry.field(name="in", default=strawberry.UNSET)
    not_in: list[str] | None = strawberry.UNSET
    is_null: bool | None = strawberry.UNSET


@strawberry.input
class FloatFilter:
    eq: float | None = strawberry.UNSET
    gt: float | None = strawberry.UNSET
    gte: float | None = strawberry.UNSET
    lt: float | None = strawberry.UNSET
    lte: float | None = strawberry.UNSET
    is_null: bool | None = strawberry.UNSET


@strawberry.input
class DateTimeFilter:
    gt: datetime | None = strawberry.UNSET
    gte: datetime | None = strawberry.UNSET
    lt: datetime | None = strawberry.UNSET
    lte: datetime | None = strawberry.UNSET


@strawberry.input
class TagFilter:
    contains_any: list[str] | None = strawberry.UNSET
    contains_all: list[str] | None = strawberry.UNSET
    contains_none: list[str] | None = strawberry.UNSET
    is_empty: bool | None = strawberry.UNSET


@strawberry.input(
    description="Fields are ANDed. `archived` omitted means not archived. At most 5 levels of and/or/not, "
    "at most 1,000 items in any list."
)
class ExampleFilter:
    and_: list[ExampleFilter] | None = strawberry.field(name="and", default=strawberry.UNSET)
    or_: list[ExampleFilter] | None = strawberry.field(name="or", default=strawberry.UNSET)
    not_: ExampleFilter | None = strawberry.field(name="not", default=strawberry.UNSET)
    ids: list[strawberry.ID] | None = strawberry.UNSET
    execution_id: StringFilter | None = strawberry.UNSET
    intent: StringFilter | None = strawberry.UNSET
    platform: StringFilter | None = strawberry.UNSET
    model_id: StringFilter | None = strawberry.UNSET
    quality_score: FloatFilter | None = strawberry.UNSET
    success: bool | None = strawberry.UNSET
    created_at: DateTimeFilter | None = strawberry.UNSET
    tags: TagFilter | None = strawberry.UNSET
    text: str | None = strawberry.field(default=strawberry.UNSET, description="Words to find in userRequest.")
    archived: bool | None = strawberry.UNSET


def _as_mapping(cls: type, value: Mapping[str, Any], context: object) -> dict[str, Any]:
    # The coerced input value already is the filter document services take (see examples.filter_sql).
    return dict(value)


ExampleFilter.__strawberry_definition__.from_input = _as_mapping  # type: ignore[attr-defined]


def as_filter(value: ExampleFilter | None) -> Filter:
    """An ExampleFilter argument as the filter document it arrives as (no filter: the empty one)."""
    return cast(Filter, value or {})
