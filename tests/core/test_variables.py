"""Long list variables of flat input objects: the compiled coercion gives graphql-core's values or steps aside."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import strawberry
from graphql import GraphQLInputObjectType, Undefined, parse
from graphql.utilities import coerce_input_value
from hypothesis import given, settings
from hypothesis import strategies as st
from strawberry.scalars import JSON

from tuneyard.core.graphql.execution import FastListExecutor
from tuneyard.core.graphql.scalars import DateTime
from tuneyard.core.graphql.variables import MIN_ITEMS, coerce_large_lists, compile_input_object


@strawberry.enum
class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.input
class Row:
    name: str
    note: str | None = None
    ratio: float | None = None
    count: int | None = None
    flag: bool | None = None
    labels: list[str] | None = None
    maybe_labels: list[str | None] | None = strawberry.UNSET
    data: JSON | None = None
    at: datetime | None = None
    colour: Colour | None = None


@strawberry.type
class Query:
    @strawberry.field
    def rows(self, rows: list[Row]) -> int:
        return len(rows)

    @strawberry.field
    def names(self, rows: list[Row]) -> list[str]:
        return [row.name for row in rows]


schema = strawberry.Schema(Query, scalar_overrides={datetime: DateTime}, execution_context_class=FastListExecutor)
ROW = schema._schema.get_type("Row")
assert isinstance(ROW, GraphQLInputObjectType)
coerce = compile_input_object(ROW)

ANY = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.floats(allow_nan=False), st.text(max_size=4),
    st.sampled_from(["RED", "BLUE", "red", "2025-01-02T03:04:05Z", "2025-13-01"]),
)  # fmt: skip
VALUE = st.one_of(ANY, st.lists(ANY, max_size=3), st.dictionaries(st.text(max_size=3), ANY, max_size=2))
FIELDS = ["name", "note", "ratio", "count", "flag", "labels", "maybeLabels", "data", "at", "colour", "unknown"]
ROWS = st.one_of(st.dictionaries(st.sampled_from(FIELDS), VALUE, max_size=6), ANY)


@settings(max_examples=2000, deadline=None)
@given(ROWS)
def test_a_compiled_coercion_is_graphql_cores_or_steps_aside(value: Any) -> None:
    assert coerce is not None
    fast = coerce(value)
    if fast is not Undefined:
        assert repr(fast) == repr(coerce_input_value(value, ROW))


def test_the_usual_rows_take_the_compiled_path_with_defaults_filled_in() -> None:
    assert coerce is not None
    full = {"name": "a", "note": None, "ratio": 1, "count": 3, "flag": True, "labels": ["x"], "data": {"k": [1]},
            "at": "2025-01-02T03:04:05Z", "colour": "RED"}  # fmt: skip
    assert coerce(full) == coerce_input_value(full, ROW)
    assert coerce(full)["ratio"] == 1.0 and type(coerce(full)["ratio"]) is float
    assert coerce({"name": "b"}) == coerce_input_value({"name": "b"}, ROW)
    assert "maybe_labels" not in coerce({"name": "b"})  # UNSET stays absent
    for graphql_cores_call in ({"name": "c", "labels": "x"}, {"name": None}, {"note": "n"}, {"name": "d", "x": 1}):
        assert coerce(graphql_cores_call) is Undefined  # a single value as a list, a null, a missing or unknown field


async def test_a_long_list_variable_arrives_as_graphql_core_would_coerce_it() -> None:
    rows = [{"name": f"n{i}", "ratio": i} for i in range(MIN_ITEMS)]
    query = "query($r: [Row!]!) { names(rows: $r) }"
    operation = parse(query).definitions[0]
    assert list(coerce_large_lists(schema._schema, operation, {"r": rows})) == ["r"]  # type: ignore[arg-type]
    result = await schema.execute(query, variable_values={"r": rows})
    assert result.errors is None and result.data == {"names": [f"n{i}" for i in range(MIN_ITEMS)]}


async def test_a_bad_item_in_a_long_list_gets_graphql_cores_error() -> None:
    rows: list[dict[str, Any]] = [{"name": f"n{i}"} for i in range(MIN_ITEMS)]
    rows[7]["ratio"] = "high"
    query = "query($r: [Row!]!) { rows(rows: $r) }"
    fast = await schema.execute(query, variable_values={"r": rows})
    plain = await strawberry.Schema(Query, scalar_overrides={datetime: DateTime}).execute(
        query, variable_values={"r": rows}
    )
    assert fast.errors is not None and plain.errors is not None
    assert [e.message for e in fast.errors] == [e.message for e in plain.errors]
    assert "Variable '$r' has invalid value at [7].ratio" in fast.errors[0].message
