"""Every place that declares an example's fields agrees with the one list, examples.models.FIELDS."""

from __future__ import annotations

import dataclasses

import asyncpg

from tuneyard.datasets.models import FrozenExample
from tuneyard.examples.models import COLUMNS, FIELDS, FROZEN, RECORDED, Example, NewExample
from tuneyard.schema import schema


def _graphql_fields(type_name: str) -> list[str]:
    found = schema._schema.get_type(type_name)
    assert found is not None, type_name
    return list(found.fields)  # type: ignore[attr-defined]


def test_the_domain_objects_have_exactly_the_listed_fields() -> None:
    assert [f.name for f in dataclasses.fields(Example)] == ["id", *COLUMNS]
    assert {f.name for f in dataclasses.fields(NewExample)} == {f.name for f in RECORDED}
    assert [f.name for f in dataclasses.fields(FrozenExample)] == ["example_id", "split", *(f.name for f in FROZEN)]


def test_the_graphql_types_have_exactly_the_listed_fields_in_order() -> None:
    assert _graphql_fields("Example") == ["id", *(f.graphql for f in FIELDS)]
    assert set(_graphql_fields("ExampleInput")) == {f.graphql for f in RECORDED}


async def test_the_example_rows_view_reads_every_listed_column(db: asyncpg.Connection) -> None:
    view = await db.fetch(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'example_rows' ORDER BY ordinal_position"
    )
    assert {r["column_name"] for r in view} == {"id", *COLUMNS}
    frozen = await db.fetch("SELECT column_name FROM information_schema.columns WHERE table_name = 'dataset_examples'")
    assert {f.name for f in FROZEN} <= {r["column_name"] for r in frozen}
