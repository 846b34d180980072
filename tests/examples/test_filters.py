"""ExampleFilter compiled to SQL selects exactly the examples an independent Python evaluation selects."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.data import INTENTS, PLATFORMS, TAGS
from bench.data import examples as generate
from tests.support.datasets import new_examples
from tests.support.oracle import matches
from tuneyard.core.db import create_pool
from tuneyard.core.errors import ValidationError
from tuneyard.examples import service as examples_service
from tuneyard.examples.filter_sql import MAX_DEPTH, MAX_LIST, compile_filter


class Database:
    """A loop of its own, so that hypothesis (which is synchronous) can query between examples."""

    def __init__(self, url: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.pool: asyncpg.Pool = self.loop.run_until_complete(create_pool(url, max_size=2))

    def run(self, coroutine: Any) -> Any:
        return self.loop.run_until_complete(coroutine)

    def ids(self, spec: dict[str, Any]) -> set[int]:
        where = compile_filter(spec)
        return {
            r["id"] for r in self.run(self.pool.fetch(f"SELECT e.id FROM examples e WHERE {where.sql}", *where.params))
        }

    def close(self) -> None:
        self.run(self.pool.close())
        self.loop.close()


@pytest.fixture(scope="module")
def database(database_url: str) -> Iterator[tuple[Database, list[dict[str, Any]]]]:
    db = Database(database_url)
    db.run(db.pool.execute("TRUNCATE examples RESTART IDENTITY CASCADE"))
    rows = list(generate(1200, seed=3, prefix="flt"))
    for i, row in enumerate(rows[:100]):  # some examples lack the optional fields
        row.update(intent=None if i % 2 else row["intent"], qualityScore=None if i % 3 else row["qualityScore"],
                   platform=None if i % 5 == 0 else row["platform"], success=None if i % 7 == 0 else row["success"])  # fmt: skip
    batch = new_examples(rows)
    db.run(examples_service.record(db.pool, batch[:1000]))
    db.run(examples_service.record(db.pool, batch[1000:]))
    db.run(db.pool.execute("UPDATE examples SET archived = true WHERE id % 10 = 0"))
    stored = [dict(r) for r in db.run(db.pool.fetch("SELECT * FROM example_rows"))]
    yield db, stored
    db.close()


START = datetime(2025, 1, 1, tzinfo=UTC)
strings = st.sampled_from([*INTENTS[:4], "nope"])
string_filter = st.fixed_dictionaries(
    {},
    optional={
        "eq": strings, "neq": strings, "in": st.lists(strings, max_size=3), "notIn": st.lists(strings, max_size=3),
        "isNull": st.booleans(),
    },
)  # fmt: skip
platform_filter = st.fixed_dictionaries({}, optional={"eq": st.sampled_from(PLATFORMS), "isNull": st.booleans()})
scores = st.sampled_from([0.0, 0.3, 0.5, 0.7, 0.8, 0.9, 1.0])
float_filter = st.fixed_dictionaries(
    {}, optional={"eq": scores, "gt": scores, "gte": scores, "lt": scores, "lte": scores, "isNull": st.booleans()}
)
times = st.integers(0, 365).map(lambda d: (START + timedelta(days=d)).isoformat())
time_filter = st.fixed_dictionaries({}, optional={"gt": times, "gte": times, "lt": times, "lte": times})
tag_lists = st.lists(st.sampled_from(TAGS), min_size=1, max_size=3)
tag_filter = st.fixed_dictionaries(
    {},
    optional={"containsAny": tag_lists, "containsAll": tag_lists, "containsNone": tag_lists, "isEmpty": st.booleans()},
)
leaf = st.fixed_dictionaries(
    {},
    optional={
        "intent": string_filter, "platform": platform_filter, "qualityScore": float_filter, "success": st.booleans(),
        "createdAt": time_filter, "tags": tag_filter, "archived": st.booleans(),
    },
)  # fmt: skip
filters = st.recursive(
    leaf,
    lambda inner: st.one_of(
        st.fixed_dictionaries({"and": st.lists(inner, max_size=3)}),
        st.fixed_dictionaries({"or": st.lists(inner, max_size=3)}),
        st.fixed_dictionaries({"not": inner}),
        st.tuples(leaf, inner).map(lambda pair: {**pair[0], "and": [pair[1]]}),
    ),
    max_leaves=6,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=filters)
def test_random_filters_match_python(database: tuple[Database, list[dict[str, Any]]], spec: dict[str, Any]) -> None:
    db, rows = database
    try:
        got = db.ids(spec)
    except ValidationError as error:
        assert "levels deep" in error.message
        return
    assert got == {r["id"] for r in rows if matches(r, spec)}


def test_ids_and_text(database: tuple[Database, list[dict[str, Any]]]) -> None:
    db, rows = database
    some = [str(r["id"]) for r in rows[:20]]
    assert db.ids({"ids": some}) == {r["id"] for r in rows[:20] if not r["archived"]}
    found = db.ids({"text": "publish linkedin"})
    expected = {
        r["id"] for r in rows
        if not r["archived"] and {"publish", "linkedin"} <= set(r["user_request"].replace(":", " ").replace(",", " ").split())
    }  # fmt: skip
    assert found == expected and found


def test_bounds_are_enforced() -> None:
    deep: dict[str, Any] = {"intent": {"eq": "x"}}
    for _ in range(MAX_DEPTH):
        deep = {"not": deep}
    with pytest.raises(ValidationError, match=f"at most {MAX_DEPTH} levels"):
        compile_filter(deep)
    compile_filter(deep["not"])
    with pytest.raises(ValidationError, match=rf"filter.ids: at most {MAX_LIST} items, got {MAX_LIST + 1}"):
        compile_filter({"ids": list(range(MAX_LIST + 1))})
    with pytest.raises(ValidationError, match=r"filter.intent.in: at most"):
        compile_filter({"intent": {"in": ["a"] * (MAX_LIST + 1)}})
    with pytest.raises(ValidationError, match=r"filter.ids\[1\]: 'abc' is not a valid example id"):
        compile_filter({"ids": ["7", "abc"]})
    with pytest.raises(ValidationError, match=r"filter.ids\[0\]: '9223372036854775808' is not a valid example id"):
        compile_filter({"ids": [str(2**63)]})
    with pytest.raises(ValidationError, match="must not be empty"):
        compile_filter({"text": "  "})


def test_values_never_reach_sql_text() -> None:
    where = compile_filter({"intent": {"eq": "x'; DROP TABLE examples; --"}, "text": "a' OR 1=1"})
    assert "DROP" not in where.sql and "1=1" not in where.sql
    assert where.params == ["x'; DROP TABLE examples; --", "a' OR 1=1"]
