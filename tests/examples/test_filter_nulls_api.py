"""Explicit nulls anywhere in an ExampleFilter sent over GraphQL mean "no condition", never a server error."""

from __future__ import annotations

import asyncpg

from tests.support import RECORD, GraphQLClient

PAGE = "query($f: ExampleFilter) { examples(filter: $f, first: 50) { nodes { executionId } } }"
NULLS = {
    "and": None, "or": None, "not": None, "ids": None, "text": None, "archived": None, "success": None,
    "executionId": {"eq": None, "neq": None, "in": None, "notIn": None, "isNull": None},
    "intent": None, "platform": {"eq": None}, "modelId": {"isNull": None},
    "qualityScore": {"eq": None, "gt": None, "gte": None, "lt": None, "lte": None, "isNull": None},
    "createdAt": {"gt": None, "gte": None, "lt": None, "lte": None},
    "tags": {"containsAny": None, "containsAll": None, "containsNone": None, "isEmpty": None},
}  # fmt: skip


async def test_explicit_nulls_select_like_an_empty_filter(curator: GraphQLClient, db: asyncpg.Connection) -> None:
    curator.data(RECORD, {"examples": [{"executionId": "n-1", "userRequest": "a", "tags": ["t"]},
                                       {"executionId": "n-2", "userRequest": "b", "qualityScore": 0.5}]})  # fmt: skip
    everything = {"n-1", "n-2"}
    cases = [
        (NULLS, everything),
        ({"and": [NULLS], "or": [NULLS, {"intent": None}]}, everything),
        ({"not": {"qualityScore": {"gte": None}}}, set()),  # `not` of no condition (true) matches nothing
        ({"not": {"qualityScore": {"gte": 0.4, "lt": None}}}, {"n-1"}),
    ]
    for spec, expected in cases:
        body = curator.execute(PAGE, {"f": spec})
        assert "errors" not in body, body
        assert {n["executionId"] for n in body["data"]["examples"]["nodes"]} == expected, spec
