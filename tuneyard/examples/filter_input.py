"""ExampleFilter and its parts. A filter reaches services as the plain mapping GraphQL coerced."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

import strawberry

from tuneyard.examples.service import Filter


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
