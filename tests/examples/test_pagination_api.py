"""Keyset pagination: every ordering returns each matching example exactly once, and the README's rule for walks while
examples change."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from bench.data import examples as generate
from tests.support import RECORD, GraphQLClient
from tests.support.oracle import matches

PAGE = """query($f: ExampleFilter, $o: ExampleOrder, $n: Int, $after: String) {
  examples(filter: $f, orderBy: $o, first: $n, after: $after) {
    pageInfo { hasNextPage endCursor } nodes { id qualityScore createdAt } } }"""
ORDERS = ["CREATED_AT_DESC", "CREATED_AT_ASC", "QUALITY_SCORE_DESC", "QUALITY_SCORE_ASC"]


def walk(client: GraphQLClient, order: str, spec: dict[str, Any] | None, size: int, between: Any = None) -> list[str]:
    seen: list[str] = []
    after = None
    while True:
        page = client.data(PAGE, {"f": spec, "o": order, "n": size, "after": after})["examples"]
        seen += [n["id"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            return seen
        after = page["pageInfo"]["endCursor"]
        if between:
            between(len(seen))


def sort_key(order: str, row: dict[str, Any]) -> tuple[Any, int]:
    key = (
        row["created_at"]
        if order.startswith("CREATED_AT")
        else (row["quality_score"] if row["quality_score"] is not None else -1)
    )
    return key, row["id"]


@pytest.mark.parametrize("order", ORDERS)
async def test_every_ordering_walks_each_example_once(
    order: str, curator: GraphQLClient, db: asyncpg.Connection
) -> None:
    rows = list(generate(700, seed=5, prefix="pg"))
    for i, row in enumerate(rows[:60]):
        if i % 2:
            row["qualityScore"] = None  # missing scores sort as -1
        row["createdAt"] = rows[0]["createdAt"]  # ties on the sort key are broken by id
    curator.data(RECORD, {"examples": rows})
    stored = [dict(r) for r in await db.fetch("SELECT * FROM example_rows")]
    spec = {"platform": {"neq": "blog"}}
    seen = walk(curator, order, spec, 37)
    expected = sorted(
        (r for r in stored if matches(r, spec)), key=lambda r: sort_key(order, r), reverse=order.endswith("DESC")
    )
    assert seen == [str(r["id"]) for r in expected]


async def test_walk_is_complete_while_examples_are_recorded(curator: GraphQLClient, db: asyncpg.Connection) -> None:
    first = list(generate(600, seed=8, prefix="old"))
    curator.data(RECORD, {"examples": first})
    original = {str(r["id"]) for r in await db.fetch("SELECT id FROM examples")}
    fresh = iter(generate(10_000, seed=9, prefix="new"))

    def record_more(step: int) -> None:
        # New examples both newer than everything and scattered through the year.
        curator.data(RECORD, {"examples": [next(fresh) for _ in range(25)]})
        # Re-records with other scores, without createdAt: by creation, their place does not change.
        changed = [{**row, "qualityScore": (step % 10) / 10} for row in first[step % 500 : step % 500 + 100]]
        curator.data(RECORD, {"examples": [{k: v for k, v in row.items() if k != "createdAt"} for row in changed]})

    seen = walk(curator, "CREATED_AT_DESC", None, 50, between=record_more)
    assert len(seen) == len(set(seen)), "no example twice"
    assert original <= set(seen), "every example that existed when the walk began"


async def test_a_score_that_changes_during_a_walk_by_quality(curator: GraphQLClient, db: asyncpg.Connection) -> None:
    """The README's rule on the issue's case: A=0.9, B=0.5, C=0.1; after the first page A becomes 0.3 and C 0.95.
    B, which kept its score, is returned once; A twice and C never, as the rule allows for changed sort keys."""
    scores = {"A": 0.9, "B": 0.5, "C": 0.1}
    curator.data(
        RECORD, {"examples": [{"executionId": k, "userRequest": k, "qualityScore": s} for k, s in scores.items()]}
    )
    names = {str(r["id"]): r["execution_id"] for r in await db.fetch("SELECT id, execution_id FROM examples")}

    def rescore(step: int) -> None:
        if step == 1:
            changed = [
                {"executionId": "A", "userRequest": "A", "qualityScore": 0.3},
                {"executionId": "C", "userRequest": "C", "qualityScore": 0.95},
            ]
            curator.data(RECORD, {"examples": changed})

    assert [names[i] for i in walk(curator, "QUALITY_SCORE_DESC", None, 1, between=rescore)] == ["A", "B", "A"]


async def test_bad_cursors_and_page_bounds(curator: GraphQLClient, db: asyncpg.Connection) -> None:
    curator.data(RECORD, {"examples": list(generate(5, prefix="b"))})
    page = curator.data(PAGE, {"o": "QUALITY_SCORE_DESC", "n": 2})["examples"]
    foreign = curator.error(PAGE, {"o": "CREATED_AT_DESC", "n": 2, "after": page["pageInfo"]["endCursor"]})
    assert "belongs to ordering QUALITY_SCORE_DESC, not CREATED_AT_DESC" in foreign["message"]
    assert foreign["extensions"]["code"] == "BAD_USER_INPUT"
    forged = curator.error(PAGE, {"n": 2, "after": "WyJDUkVBVEVEX0FUX0RFU0MiLCJub3QgYSBkYXRlIiwxXQ"})
    assert "not a cursor this server issued" in forged["message"]
    too_many = curator.error(PAGE, {"n": 501})
    assert "first: must be between 0 and 500, got 501" in too_many["message"]
    deep: dict[str, Any] = {"success": True}
    for _ in range(6):
        deep = {"not": deep}
    assert "at most 5 levels" in curator.error(PAGE, {"f": deep})["message"]
    assert "at most 1000 items" in curator.error(PAGE, {"f": {"ids": [str(i) for i in range(1001)]}})["message"]


async def test_fast_list_path_gives_the_same_rows_as_normal_execution(
    curator: GraphQLClient, db: asyncpg.Connection
) -> None:
    rows = list(generate(30, seed=2, prefix="fast"))
    rows[0]["qualityScore"] = None
    rows[1]["intent"] = None
    curator.data(RECORD, {"examples": rows})
    fields = "id executionId userRequest intent platform businessState executionPlan qualityScore success tags archived patternsDiscovered createdAt updatedAt"
    fast = curator.data(f"{{ examples(first: 30) {{ nodes {{ __typename {fields} score: qualityScore }} }} }}")
    # Through edges and through a fragment the items are completed field by field, the normal way.
    normal = curator.data(
        f"{{ examples(first: 30) {{ edges {{ node {{ __typename {fields} score: qualityScore }} }} }} }}"
    )
    fragment = curator.data(
        f"{{ examples(first: 30) {{ nodes {{ ... on Example {{ __typename {fields} score: qualityScore }} }} }} }}"
    )
    fast_nodes = fast["examples"]["nodes"]
    assert fast_nodes == [e["node"] for e in normal["examples"]["edges"]] == fragment["examples"]["nodes"]
    assert list(fast_nodes[0]) == ["__typename", *fields.split(), "score"], "keys in selection order"
    assert any(n["qualityScore"] is None for n in fast_nodes) and any(n["intent"] is None for n in fast_nodes)
