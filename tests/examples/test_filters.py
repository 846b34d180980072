"""Random ExampleFilters compiled to SQL select exactly what an oracle computed from the recorded inputs selects.

The generator draws selective filters (it keeps those matching 5% to 95% of the examples, and one in ten of the
rest) over every filter field, with bounds taken from the stored values (ties between `gt` and `gte`), empty
lists and explicit nulls; the oracle (tests/support/oracle.py) evaluates them on the inputs, never on rows read
back from the database.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bench.data import INTENTS, PLATFORMS, TAGS
from bench.data import examples as generate
from tests.support.filter_db import FilterDatabase, oracle_row
from tests.support.oracle import matches
from tuneyard.core.errors import ValidationError

MODELS = ["gpt", "llama", None]


def _inputs() -> list[dict[str, Any]]:
    rows = list(generate(240, seed=3, prefix="flt"))
    for i, row in enumerate(rows):  # every optional field is missing on some examples
        row.update(
            intent=None if i % 4 == 0 else row["intent"], platform=None if i % 5 == 0 else row["platform"],
            qualityScore=None if i % 6 == 0 else row["qualityScore"], success=None if i % 7 == 0 else row["success"],
            modelId=MODELS[i % 3], createdAt=rows[i - i % 9]["createdAt"],  # runs of equal times: ties at bounds
        )  # fmt: skip
    return rows


INPUTS = _inputs()
ARCHIVED = {r["executionId"] for i, r in enumerate(INPUTS) if i % 10 == 3}
EXECUTION_IDS = [r["executionId"] for r in INPUTS]
SCORES = sorted({r["qualityScore"] for r in INPUTS if r["qualityScore"] is not None})
TIMES = sorted({r["createdAt"] for r in INPUTS})
WORDS = ["publish", "linkedin", "blog", "campaign", "analyze", "twitter", "create content", "for blog"]


@pytest.fixture(scope="module")
def database(database_url: str) -> Iterator[tuple[FilterDatabase, list[dict[str, Any]]]]:
    db = FilterDatabase(database_url)
    db.load(INPUTS, ARCHIVED)
    yield db, [oracle_row(r, db.id_of[r["executionId"]], r["executionId"] in ARCHIVED) for r in INPUTS]
    db.close()


def _maybe(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A value, or now and then an explicit null (the operator is then ignored)."""
    return st.one_of(values, values, values, st.none())


def _strings(values: list[Any]) -> st.SearchStrategy[dict[str, Any]]:
    one = st.sampled_from(values)
    many = st.lists(one, max_size=4)
    return st.fixed_dictionaries(
        {}, optional={"eq": _maybe(one), "neq": _maybe(one), "in": _maybe(many), "notIn": _maybe(many),
                      "isNull": _maybe(st.booleans())},
    )  # fmt: skip


# Scores and times stored, and the summary's bounds: its quality bins' thresholds, midnights UTC (see test_summary).
score = st.sampled_from([*SCORES, 0.0, 0.5, 1.0, *(k / 20 for k in range(1, 20))])
MIDNIGHTS = sorted({datetime.fromisoformat(t).astimezone(UTC).replace(hour=0, minute=0, second=0) for t in TIMES})
moment = st.one_of(
    st.sampled_from(TIMES).map(lambda t: datetime.fromisoformat(t).isoformat()),
    st.sampled_from(MIDNIGHTS).map(datetime.isoformat),
)
tag_list = st.lists(st.sampled_from(TAGS), max_size=3)
id_list = st.lists(st.sampled_from(EXECUTION_IDS), min_size=12, max_size=200, unique=True)
_LEAF_FIELDS = {
    "executionId": st.one_of(
        st.fixed_dictionaries({"in": id_list}), st.fixed_dictionaries({"notIn": id_list}), _strings(EXECUTION_IDS)),
    "ids": id_list,  # executionIds here, turned into ids once they are known
    "intent": _strings([*INTENTS[:5], "nope"]),
    "platform": _strings(PLATFORMS),
    "modelId": _strings(["gpt", "llama", "other"]),
    "qualityScore": st.fixed_dictionaries(
        {}, optional={op: _maybe(score) for op in ("eq", "gt", "gte", "lt", "lte")} | {"isNull": _maybe(st.booleans())}),
    "success": _maybe(st.booleans()),
    "createdAt": st.fixed_dictionaries({}, optional={op: _maybe(moment) for op in ("gt", "gte", "lt", "lte")}),
    "tags": st.fixed_dictionaries(
        {}, optional={op: _maybe(tag_list) for op in ("containsAny", "containsAll", "containsNone")}
        | {"isEmpty": _maybe(st.booleans())}),
    "text": st.sampled_from(WORDS),
    "archived": _maybe(st.booleans()),
}  # fmt: skip


def _nested(leaf: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.recursive(
        leaf,
        lambda inner: st.one_of(
            st.fixed_dictionaries({"and": st.lists(inner, max_size=3)}),
            st.fixed_dictionaries({"or": st.lists(inner, max_size=3)}),
            st.fixed_dictionaries({"not": inner}),
            st.tuples(leaf, inner).map(lambda pair: {**pair[0], "and": [pair[1]]}),
        ),
        max_leaves=4,
    )


filters = _nested(st.fixed_dictionaries({}, optional=_LEAF_FIELDS))
# Filters of only the fields the example summary may answer (executionId, ids and text it never does).
summary_filters = _nested(st.fixed_dictionaries(
    {}, optional={k: v for k, v in _LEAF_FIELDS.items() if k not in ("executionId", "ids", "text")}))  # fmt: skip


def _with_ids(spec: Any, id_of: dict[str, int]) -> Any:
    """The drawn filter with `ids` turned from executionIds into the ids the database gave them."""
    if isinstance(spec, dict):
        return {k: [str(id_of[e]) for e in v] if k == "ids" else _with_ids(v, id_of) for k, v in spec.items()}
    if isinstance(spec, list):
        return [_with_ids(s, id_of) for s in spec]
    return spec


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much])  # fmt: skip
@given(drawn=filters, text=st.one_of(st.none(), st.sampled_from(WORDS)), keep_any=st.integers(0, 9))
def test_random_filters_match_the_oracle(
    database: tuple[FilterDatabase, list[dict[str, Any]]], drawn: dict[str, Any], text: str | None, keep_any: int
) -> None:
    db, rows = database
    spec = _with_ids(drawn, db.id_of) | ({"text": text} if text else {})
    expected = {r["execution_id"] for r in rows if matches(r, spec)}
    # Mostly selective filters: one matching nothing or everything tells little.
    assume(0.05 <= len(expected) / len(rows) <= 0.95 or keep_any == 0)
    try:
        got = db.matching(spec)
    except ValidationError as error:
        assert "levels deep" in error.message
        return
    assert got == expected


def test_text_search_is_every_word(database: tuple[FilterDatabase, list[dict[str, Any]]]) -> None:
    db, rows = database
    for words in WORDS:
        expected = {r["execution_id"] for r in rows if matches(r, {"text": words})}
        assert db.matching({"text": words}) == expected and 0 < len(expected) < len(rows), words


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much])  # fmt: skip
@given(spec=summary_filters)
def test_the_summary_counts_what_the_oracle_selects(
    database: tuple[FilterDatabase, list[dict[str, Any]]], spec: dict[str, Any]
) -> None:
    """Where the example summary answers a filter, its count is the number of examples the oracle selects."""
    db, rows = database
    try:
        counted = db.summary_count(spec)
    except ValidationError as error:
        assert "levels deep" in error.message
        return
    assume(counted is not None)
    assert counted == sum(matches(r, spec) for r in rows)
