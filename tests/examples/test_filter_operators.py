"""Every ExampleFilter operator on a handful of known examples, with missing values and explicit nulls.

The expected executionIds are written out by hand from the inputs below: a missing intent, platform, modelId or
score never matches a comparison, still matches `neq`/`notIn`, and matches the negation of any condition on it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.support.filter_db import FilterDatabase
from tuneyard.core.errors import ValidationError
from tuneyard.examples.filter_sql import compile_filter


def _example(eid: str, day: int, request: str, **fields: Any) -> dict[str, Any]:
    return {"executionId": eid, "userRequest": request, "createdAt": f"2025-01-0{day}T00:00:00+00:00", **fields}


INPUTS = [
    _example("a", 1, "publish the blog post", intent="publish", platform="blog", modelId="gpt", qualityScore=0.0,
             success=True, tags=["good"]),
    _example("b", 2, "publish a thread", intent="publish", qualityScore=1.0, success=False),
    _example("c", 3, "analyze the week", platform="linkedin", modelId="gpt", tags=["bad", "good"]),
    _example("d", 4, "analyze the blog", intent="analyze", platform="twitter", modelId="llama", qualityScore=0.5,
             success=True, tags=["bad"]),
    _example("z", 5, "publish archived", intent="publish", platform="blog", modelId="gpt", qualityScore=0.7,
             success=True, tags=["good"]),
]  # fmt: skip
LIVE = {"a", "b", "c", "d"}  # z is archived

CASES: list[tuple[dict[str, Any], set[str]]] = [
    ({}, LIVE),
    ({"intent": {"eq": "publish"}}, {"a", "b"}),
    ({"intent": {"neq": "publish"}}, {"c", "d"}),
    ({"intent": {"in": ["publish", "analyze"]}}, {"a", "b", "d"}),
    ({"intent": {"in": []}}, set()),
    ({"intent": {"notIn": ["publish"]}}, {"c", "d"}),
    ({"intent": {"notIn": []}}, LIVE),
    ({"intent": {"isNull": True}}, {"c"}),
    ({"intent": {"isNull": False}}, {"a", "b", "d"}),
    ({"not": {"intent": {"eq": "publish"}}}, {"c", "d"}),
    ({"not": {"intent": {"in": ["analyze"]}}}, {"a", "b", "c"}),
    ({"not": {"not": {"intent": {"eq": "publish"}}}}, {"a", "b"}),
    ({"intent": {"eq": None, "neq": None, "in": None, "notIn": None, "isNull": None}}, LIVE),
    ({"platform": {"eq": "blog"}}, {"a"}),
    ({"platform": {"neq": "blog"}}, {"b", "c", "d"}),
    ({"platform": {"notIn": ["blog", "twitter"]}}, {"b", "c"}),
    ({"platform": {"isNull": True}}, {"b"}),
    ({"executionId": {"eq": "c"}}, {"c"}),
    ({"executionId": {"in": ["a", "d", "z"]}}, {"a", "d"}),
    ({"executionId": {"neq": "a"}}, {"b", "c", "d"}),
    ({"executionId": {"notIn": ["a", "b"]}}, {"c", "d"}),
    ({"modelId": {"eq": "gpt"}}, {"a", "c"}),
    ({"modelId": {"neq": "gpt"}}, {"b", "d"}),
    ({"modelId": {"notIn": ["llama"]}}, {"a", "b", "c"}),
    ({"modelId": {"isNull": True}}, {"b"}),
    ({"qualityScore": {"gt": 0.5}}, {"b"}),
    ({"qualityScore": {"gte": 0.5}}, {"b", "d"}),
    ({"qualityScore": {"lt": 0.5}}, {"a"}),
    ({"qualityScore": {"lte": 0.5}}, {"a", "d"}),
    ({"qualityScore": {"eq": 0.0}}, {"a"}),
    ({"qualityScore": {"eq": 1}}, {"b"}),
    ({"qualityScore": {"gte": 0.0}}, {"a", "b", "d"}),
    ({"qualityScore": {"lte": 1.0}}, {"a", "b", "d"}),
    ({"qualityScore": {"gt": 0.0, "lt": 1.0}}, {"d"}),
    ({"qualityScore": {"isNull": True}}, {"c"}),
    ({"qualityScore": {"isNull": False}}, {"a", "b", "d"}),
    ({"qualityScore": {"gt": None, "isNull": None}}, LIVE),
    ({"not": {"qualityScore": {"gte": 0.5}}}, {"a", "c"}),
    ({"not": {"qualityScore": {"lt": 0.5}}}, {"b", "c", "d"}),
    ({"success": True}, {"a", "d"}),
    ({"success": False}, {"b"}),
    ({"success": None}, LIVE),
    ({"not": {"success": True}}, {"b", "c"}),
    ({"createdAt": {"gt": "2025-01-02T00:00:00Z"}}, {"c", "d"}),
    ({"createdAt": {"gte": "2025-01-02T00:00:00Z"}}, {"b", "c", "d"}),
    ({"createdAt": {"lt": "2025-01-03T00:00:00+00:00"}}, {"a", "b"}),
    ({"createdAt": {"lte": "2025-01-03T00:00:00+00:00"}}, {"a", "b", "c"}),
    ({"createdAt": {"gte": "2025-01-02T01:00:00+01:00", "lte": "2025-01-02T00:00:00Z"}}, {"b"}),
    ({"createdAt": {"gte": datetime(2025, 1, 4, tzinfo=UTC)}}, {"d"}),
    ({"createdAt": {"gt": None, "lt": None}}, LIVE),
    ({"tags": {"containsAny": ["good"]}}, {"a", "c"}),
    ({"tags": {"containsAny": ["good", "bad"]}}, {"a", "c", "d"}),
    ({"tags": {"containsAny": []}}, set()),
    ({"tags": {"containsAll": ["good", "bad"]}}, {"c"}),
    ({"tags": {"containsAll": ["good"]}}, {"a", "c"}),
    ({"tags": {"containsAll": []}}, LIVE),
    ({"tags": {"containsNone": ["bad"]}}, {"a", "b"}),
    ({"tags": {"containsNone": []}}, LIVE),
    ({"tags": {"isEmpty": True}}, {"b"}),
    ({"tags": {"isEmpty": False}}, {"a", "c", "d"}),
    ({"tags": {"containsAny": None, "containsAll": None, "containsNone": None, "isEmpty": None}}, LIVE),
    ({"not": {"tags": {"containsAny": ["good"]}}}, {"b", "d"}),
    ({"text": "publish"}, {"a", "b"}),
    ({"text": "analyze blog"}, {"d"}),
    ({"archived": True}, {"z"}),
    ({"archived": False}, LIVE),
    ({"archived": None}, LIVE),
    ({"or": [{"archived": True}, {"intent": {"eq": "analyze"}}]}, {"d"}),
    ({"or": [{"intent": {"eq": "analyze"}}, {"tags": {"isEmpty": True}}]}, {"b", "d"}),
    ({"and": [{"success": True}, {"platform": {"eq": "blog"}}]}, {"a"}),
    ({"or": []}, LIVE),
    ({"and": []}, LIVE),
    ({"and": None, "or": None, "not": None, "ids": None, "text": None}, LIVE),
    ({"not": {}}, set()),
    ({"not": {"or": [{"intent": {"eq": "publish"}}, {"qualityScore": {"gte": 0.5}}]}}, {"c"}),
    ({"intent": {"eq": "publish"}, "qualityScore": {"gte": 0.5}}, {"b"}),
]


@pytest.fixture(scope="module")
def known(database_url: str) -> Iterator[FilterDatabase]:
    db = FilterDatabase(database_url)
    db.load(INPUTS, archived={"z"})
    yield db
    db.close()


@pytest.mark.parametrize(("spec", "expected"), CASES, ids=[str(spec) for spec, _ in CASES])
def test_each_operator_selects_exactly(known: FilterDatabase, spec: dict[str, Any], expected: set[str]) -> None:
    assert known.matching(spec) == expected


def test_ids_select_by_id(known: FilterDatabase) -> None:
    ids = [str(known.id_of[e]) for e in ("a", "d", "z")]
    assert known.matching({"ids": ids}) == {"a", "d"}
    assert known.matching({"ids": [known.id_of["b"]]}) == {"b"}
    assert known.matching({"ids": []}) == set()


def test_restoring_defaults_to_archived_examples(known: FilterDatabase) -> None:
    assert known.matching({}, archived_default=True) == {"z"}
    assert known.matching({"archived": None}, archived_default=True) == {"z"}
    assert known.matching({"archived": False}, archived_default=True) == LIVE


def _wrapped(times: int) -> dict[str, Any]:
    spec: dict[str, Any] = {"intent": {"eq": "publish"}}
    for _ in range(times):
        spec = {"not": spec}
    return spec


def test_limits_hold_on_both_sides(known: FilterDatabase) -> None:
    assert known.matching(_wrapped(4)) == {"a", "b"}, "four `not`s nest five levels: allowed"
    with pytest.raises(ValidationError, match=r"filter.not.not.not.not.not: filters nest at most 5 levels deep"):
        compile_filter(_wrapped(5))
    assert known.matching({"ids": [str(i) for i in range(1, 1001)]}) == LIVE
    with pytest.raises(ValidationError, match=r"filter.ids: at most 1000 items, got 1001"):
        compile_filter({"ids": [str(i) for i in range(1, 1002)]})
    assert known.matching({"intent": {"in": ["publish"] * 1000}}) == {"a", "b"}
    with pytest.raises(ValidationError, match=r"filter.intent.in: at most 1000 items, got 1001"):
        compile_filter({"intent": {"in": ["publish"] * 1001}})
    assert known.matching({"or": [{"success": False}] * 1000}) == {"b"}
    with pytest.raises(ValidationError, match=r"filter.or: at most 1000 items, got 1001"):
        compile_filter({"or": [{"success": False}] * 1001})
    with pytest.raises(ValidationError, match=r"filter.tags.containsAll: at most 1000 items, got 1001"):
        compile_filter({"tags": {"containsAll": ["good"] * 1001}})
    assert known.matching({"text": "publish " + "x" * 992}) == set(), "1000 characters: searched"
    with pytest.raises(ValidationError, match=r"^filter.text: search text is 1,001 characters, at most 1,000$"):
        compile_filter({"text": "x" * 1001})
    leaf = {"intent": {"eq": "x"}}
    assert len(compile_filter({"or": [{"or": [leaf] * 1000}] * 32}).params) == 32_000
    with pytest.raises(ValidationError, match=r"^filter: needs more than 32,000 SQL parameters"):
        compile_filter({"or": [{"or": [leaf] * 1000}] * 32, "platform": {"eq": "x"}})


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"text": "  "}, "filter.text: search text must not be empty"),
        ({"text": "a\x00b"}, "filter.text: must not contain the NUL character"),
        ({"intent": {"eq": "a\x00"}}, "filter.intent.eq: must not contain the NUL character"),
        ({"platform": {"notIn": ["ok", "\x00"]}}, "filter.platform.notIn: must not contain the NUL character"),
        ({"tags": {"containsAny": ["\x00"]}}, "filter.tags.containsAny: must not contain the NUL character"),
        ({"intnet": {"eq": "x"}}, "filter: unknown filter field\\(s\\) intnet"),
        ({"and": [{"x": 1}]}, r"filter.and\[0\]: unknown filter field\(s\) x"),
        ({"createdAt": {"gt": "yesterday"}}, "filter.createdAt.gt: not an ISO 8601 date-time: 'yesterday'"),
        ({"ids": ["7", "abc"]}, r"filter.ids\[1\]: 'abc' is not a valid example id"),
    ],
)
def test_bad_filters_are_refused_naming_the_field(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        compile_filter(spec)


def test_values_never_reach_sql_text() -> None:
    where = compile_filter({"intent": {"eq": "x'; DROP TABLE examples; --"}, "text": "a' OR 1=1"})
    assert "DROP" not in where.sql and "1=1" not in where.sql
    assert where.params == ["x'; DROP TABLE examples; --", "a' OR 1=1"]
