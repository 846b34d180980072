"""Keyset pages whose boundaries land on every row: ties on the sort key, missing scores, in every order.

The expected order is computed from the inputs (a missing score sorts as -1, ties by id in the page's direction),
and the walk is repeated with every page size from 1 to past the end, so some page ends on each row.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

import asyncpg
import orjson
import pytest

from tests.support import RECORD, GraphQLClient
from tests.support.datasets import new_examples
from tuneyard.core.errors import ValidationError
from tuneyard.examples import service
from tuneyard.examples.ordering import ExampleOrder, decode_cursor, encode_cursor

SCORES = [0.5, None, 0.5, 1.0, None, 0.0, 0.5, None, 1.0, 0.0]
DAYS = [1, 1, 2, 2, 2, 3, 1, 3, 3, 2]
INPUTS: list[dict[str, Any]] = [
    {"executionId": f"p{i}", "userRequest": f"request {i}", "qualityScore": score,
     "createdAt": f"2025-03-0{day}T12:00:00+00:00"}
    for i, (score, day) in enumerate(zip(SCORES, DAYS, strict=True))
]  # fmt: skip


async def _load(pool: asyncpg.Pool) -> dict[str, int]:
    await service.record(pool, new_examples(INPUTS))
    return {r["execution_id"]: r["id"] for r in await pool.fetch("SELECT id, execution_id FROM examples")}


def _expected(order: ExampleOrder, id_of: dict[str, int]) -> list[int]:
    def key(row: dict[str, Any]) -> tuple[Any, int]:
        sort = datetime.fromisoformat(row["createdAt"]) if order.by_created_at else row["qualityScore"]
        return (-1.0 if sort is None else sort), id_of[row["executionId"]]

    return [id_of[r["executionId"]] for r in sorted(INPUTS, key=key, reverse=order.descending)]


async def _walk(pool: asyncpg.Pool, order: ExampleOrder, size: int) -> list[int]:
    where, seen, after = service.compile_filter({}), [], None
    for _ in range(len(INPUTS) + 2):  # a walk that loops is cut short and fails below
        page = await service.page(pool, where, order, size, after, ["id"])
        seen += [e.id for e in page.items]
        assert len(page.cursors) == len(page.items)
        if not page.has_next_page:
            return seen
        after = page.cursors[-1]
    return seen


@pytest.mark.parametrize("order", list(ExampleOrder), ids=lambda o: o.value)
async def test_every_page_size_walks_each_example_once_in_order(pool: asyncpg.Pool, order: ExampleOrder) -> None:
    id_of = await _load(pool)
    expected = _expected(order, id_of)
    for size in range(1, len(INPUTS) + 2):
        assert await _walk(pool, order, size) == expected, f"pages of {size}"


async def test_a_page_of_exactly_the_rest_says_nothing_follows(pool: asyncpg.Pool) -> None:
    await _load(pool)
    where, order = service.compile_filter({}), ExampleOrder.QUALITY_SCORE_ASC
    whole = await service.page(pool, where, order, len(INPUTS), None, ["id"])
    assert len(whole.items) == len(INPUTS) and not whole.has_next_page
    short = await service.page(pool, where, order, len(INPUTS) - 1, None, ["id"])
    assert len(short.items) == len(INPUTS) - 1 and short.has_next_page
    empty = await service.page(pool, where, order, 0, None, ["id"])
    assert (empty.items, empty.cursors, empty.has_next_page) == ([], [], True)
    assert (await service.page(pool, where, order, 500, None, ["id"])).has_next_page is False
    for bad in (-1, 501):
        with pytest.raises(ValidationError, match=f"first: must be between 0 and 500, got {bad}"):
            await service.page(pool, where, order, bad, None, ["id"])


def _cursor(*parts: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(parts))).decode().rstrip("=")


def test_cursor_keys_round_trip_including_a_missing_score() -> None:
    moment = datetime.fromisoformat("2025-03-01T12:00:00+00:00")
    for order in ExampleOrder:
        for score in (None, 0.0, 1.0, 0.25):
            key = order.key_of(moment, score)
            assert key == (moment if order.by_created_at else (-1.0 if score is None else score))
            position = decode_cursor(order, encode_cursor(order, key, 7))
            assert (position.key, position.id) == (key, 7)
    assert decode_cursor(ExampleOrder.QUALITY_SCORE_ASC, _cursor("QUALITY_SCORE_ASC", 1, 3)).key == 1.0


@pytest.mark.parametrize(
    ("order", "forged"),
    [
        (ExampleOrder.QUALITY_SCORE_DESC, _cursor("QUALITY_SCORE_DESC", "0.5", 3)),
        (ExampleOrder.QUALITY_SCORE_DESC, _cursor("QUALITY_SCORE_DESC", True, 3)),
        (ExampleOrder.QUALITY_SCORE_DESC, _cursor("QUALITY_SCORE_DESC", None, 3)),
        (ExampleOrder.CREATED_AT_ASC, _cursor("CREATED_AT_ASC", "yesterday", 3)),
        (ExampleOrder.CREATED_AT_ASC, _cursor("CREATED_AT_ASC", 12, 3)),
        (ExampleOrder.CREATED_AT_ASC, _cursor("CREATED_AT_ASC", "2025-03-01T12:00:00+00:00", "3")),
        (ExampleOrder.CREATED_AT_ASC, _cursor("CREATED_AT_ASC", "2025-03-01T12:00:00+00:00", True)),
        (ExampleOrder.CREATED_AT_ASC, _cursor("SIDEWAYS", "2025-03-01T12:00:00+00:00", 3)),
        (ExampleOrder.CREATED_AT_ASC, _cursor("CREATED_AT_ASC", "2025-03-01T12:00:00+00:00")),
        (ExampleOrder.CREATED_AT_ASC, "%%%"),
    ],
)
def test_forged_cursors_are_refused(order: ExampleOrder, forged: str) -> None:
    with pytest.raises(ValidationError, match=r"^after: not a cursor this server issued$"):
        decode_cursor(order, forged)


PAGE = """query($o: ExampleOrder, $n: Int, $after: String) {
  examples(orderBy: $o, first: $n, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } edges { cursor node { executionId } } nodes { executionId } } }"""


async def test_connection_edges_cursors_and_end(curator: GraphQLClient, db: asyncpg.Connection) -> None:
    curator.data(RECORD, {"examples": INPUTS})
    first = curator.data(PAGE, {"o": "QUALITY_SCORE_DESC", "n": 4})["examples"]
    names = [n["executionId"] for n in first["nodes"]]
    assert [e["node"]["executionId"] for e in first["edges"]] == names == ["p8", "p3", "p6", "p2"]
    assert first["pageInfo"] == {"hasNextPage": True, "endCursor": first["edges"][-1]["cursor"]}
    assert first["totalCount"] == len(INPUTS)
    rest = curator.data(PAGE, {"o": "QUALITY_SCORE_DESC", "n": 4, "after": first["edges"][1]["cursor"]})["examples"]
    assert [n["executionId"] for n in rest["nodes"]] == ["p6", "p2", "p0", "p9"], "after the second edge"
    empty = curator.data(PAGE, {"o": "QUALITY_SCORE_DESC", "n": 0})["examples"]
    assert empty["nodes"] == empty["edges"] == [] and empty["pageInfo"] == {"hasNextPage": True, "endCursor": None}
    assert "first: must be between 0 and 500, got -1" in curator.error(PAGE, {"n": -1})["message"]
