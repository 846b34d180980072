"""Responses encoded in pieces: the same bytes as one orjson.dumps, the loop free between pieces, the size capped."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from tuneyard.core.graphql.execution import Rows
from tuneyard.server.encoding import ResponseTooLarge, encode

ROW = {"id": "1", "userRequest": "x" * 300, "businessState": {"a": [1, 2, {"b": None}], "c": "é\u2028"}, "n": 1.5}
SHAPES: list[Any] = [
    {"data": None},
    {"data": {}, "errors": [{"message": "m", "extensions": {"code": "C"}}]},
    {"data": {"a": {"nodes": []}, "b": {"nodes": [ROW]}, "c": [1]}},
    {"data": {"examples": {"totalCount": 3000, "nodes": [dict(ROW, id=str(i)) for i in range(3000)]}}},
    {"data": {"sets": {"nodes": [{"examples": {"nodes": [ROW] * 40}, "tags": ["a"] * 9000}] * 3}}},
    {"data": {"big": [{"userRequest": "y" * 200_000}] * 5, "small": list(range(20_000))}},
]


@pytest.mark.parametrize("response", SHAPES)
async def test_the_bytes_are_those_of_one_dumps(response: dict[str, Any]) -> None:
    expected = orjson.dumps(response)
    assert await encode(response, 1 << 30) == expected


async def test_rows_are_freed_as_they_are_encoded_and_nothing_else_is_touched() -> None:
    shared = [1, 2, {"x": [3, 4]}]  # a JSON value a resolver might hand out to every row
    rows = Rows({"id": str(n), "state": shared} for n in range(1000))
    response = {"data": {"examples": {"nodes": rows}, "plain": [dict(r) for r in rows]}}
    expected = orjson.dumps(response)
    assert await encode(response, 1 << 30) == expected
    assert rows == [None] * 1000, "the executor's rows were released"
    assert response["data"]["plain"][0] == {"id": "0", "state": [1, 2, {"x": [3, 4]}]}
    assert shared == [1, 2, {"x": [3, 4]}]


async def test_other_tasks_run_while_a_big_response_is_encoded() -> None:
    response = SHAPES[3] | {"more": [SHAPES[3]] * 20}
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    ticker = asyncio.create_task(tick())
    await asyncio.sleep(0)
    before = ticks
    body = await encode(response, 1 << 30)
    ticker.cancel()
    assert len(body) > 20_000_000
    assert ticks - before >= len(body) // (512 * 1024), "the loop ran at least once per 512 KiB encoded"


async def test_a_response_over_the_limit_is_refused_naming_it() -> None:
    body = await encode(SHAPES[3], 1_500_000)
    with pytest.raises(ResponseTooLarge) as refused:
        await encode(SHAPES[3], len(body) - 1)
    assert refused.value.message.startswith(f"the response is over the limit of {len(body) - 1:,} bytes")
