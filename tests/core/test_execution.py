"""FastListExecutor: plain lists take the one-pass path; permissions and field extensions are never skipped."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
import strawberry
from hypothesis import given, settings
from hypothesis import strategies as st
from strawberry.extensions import FieldExtension
from strawberry.permission import BasePermission

from tuneyard.core.graphql import execution
from tuneyard.core.graphql.execution import FastListExecutor


class Deny(BasePermission):
    message = "only admins may see this"

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        return False


class Shout(FieldExtension):
    def resolve(self, next_: Any, source: Any, info: Any, **kwargs: Any) -> Any:
        return str(next_(source, info, **kwargs)).upper()


@strawberry.type
class Item:
    name: str
    secret: str | None = strawberry.field(permission_classes=[Deny])
    loud: str = strawberry.field(extensions=[Shout()])


@strawberry.type
class Query:
    @strawberry.field
    def items(self) -> list[Item]:
        return [Item(name="a", secret="s1", loud="x"), Item(name="b", secret="s2", loud="y")]


schema = strawberry.Schema(Query, execution_context_class=FastListExecutor)


@pytest.fixture
def one_pass(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many lists took the one-pass path."""
    taken: list[int] = []
    rows = execution._rows

    def counting(*args: Any) -> Any:
        taken.append(1)
        return rows(*args)

    monkeypatch.setattr(execution, "_rows", counting)
    return taken


async def test_a_denied_field_inside_a_list_is_denied(one_pass: list[int]) -> None:
    result = await schema.execute("{ items { name secret } }")
    assert result.data == {"items": [{"name": "a", "secret": None}, {"name": "b", "secret": None}]}
    assert result.errors is not None
    assert [(e.message, e.path) for e in result.errors] == [
        ("only admins may see this", ["items", 0, "secret"]),
        ("only admins may see this", ["items", 1, "secret"]),
    ]
    assert one_pass == []


async def test_field_extensions_run_inside_lists(one_pass: list[int]) -> None:
    result = await schema.execute("{ items { name loud } }")
    assert result.errors is None
    assert result.data == {"items": [{"name": "a", "loud": "X"}, {"name": "b", "loud": "Y"}]}
    assert one_pass == []


async def test_plain_fields_still_take_the_one_pass_path(one_pass: list[int]) -> None:
    result = await schema.execute("{ items { name __typename } }")
    assert result.errors is None
    assert result.data == {"items": [{"name": "a", "__typename": "Item"}, {"name": "b", "__typename": "Item"}]}
    assert one_pass == [1]


@strawberry.type
class Scalars:
    id: strawberry.ID
    text: str
    maybe_text: str | None
    number: int | None
    ratio: float | None
    flag: bool | None
    labels: list[str]


@strawberry.type
class ScalarQuery:
    rows: strawberry.Private[list[Any]]

    @strawberry.field
    def items(self) -> list[Scalars]:
        return self.rows


FIELDS = "{ items { id text maybeText number ratio flag labels __typename t: text } }"
fast_schema = strawberry.Schema(ScalarQuery, execution_context_class=FastListExecutor)
plain_schema = strawberry.Schema(ScalarQuery)
# Values of the right type and of wrong ones: an int id, a NaN, an Int out of 32 bits, a bool where an Int is due,
# a number where a String is due, None in a non-null field. Each must come out as graphql-core's own path gives it.
VALUES = st.one_of(
    st.none(), st.text(max_size=3), st.integers(-(2**40), 2**40), st.floats(allow_nan=True), st.booleans()
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(VALUES, VALUES, VALUES, VALUES, VALUES, VALUES, st.lists(VALUES, max_size=2)), max_size=3))
async def test_compiled_rows_equal_graphql_cores_whatever_the_values(rows: list[tuple[Any, ...]]) -> None:
    names = ("id", "text", "maybe_text", "number", "ratio", "flag", "labels")
    items = [SimpleNamespace(**dict(zip(names, row, strict=True))) for row in rows]
    fast = await fast_schema.execute(FIELDS, root_value=ScalarQuery(rows=items))
    plain = await plain_schema.execute(FIELDS, root_value=ScalarQuery(rows=items))
    assert fast.data == plain.data
    assert [(e.message, e.path) for e in fast.errors or []] == [(e.message, e.path) for e in plain.errors or []]
    assert repr(fast.data) == repr(plain.data)  # the same types too: 1 and 1.0 and True compare equal
