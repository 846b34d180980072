"""Inputs at the edge of what Tuneyard stores: JSON nesting and datetimes outside 1900-9999 get a clear error and
write nothing (a probe had stored them, then every listing holding them failed)."""

from __future__ import annotations

from typing import Any

import asyncpg

from tests.support import RECORD, GraphQLClient

PAGE = "query($f: ExampleFilter) { examples(filter: $f, first: 5) { nodes { executionId businessState } } }"


def nested(levels: int) -> Any:
    value: Any = {"leaf": 1}
    for _ in range(levels - 1):
        value = {"next": value}
    return value


def example(execution_id: str, **more: Any) -> dict[str, Any]:
    return {"executionId": execution_id, "userRequest": "plan a post", **more}


async def test_json_nests_at_most_64_levels(curator: GraphQLClient, db: asyncpg.Connection) -> None:
    assert curator.data(RECORD, {"examples": [example("deep-64", businessState=nested(64))]})["recordExamples"][
        "inserted"] == 1  # fmt: skip
    for levels in (65, 254):
        batch = [example("ok-1"), example(f"deep-{levels}", executionPlan=[nested(levels)])]
        error = curator.error(RECORD, {"examples": batch})
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert "examples[1].executionPlan: arrays and objects nest more than 64 levels" in error["message"], error
    assert await db.fetchval("SELECT count(*) FROM examples") == 1, "the refused batches wrote nothing"
    page = curator.data(PAGE, {"f": {"executionId": {"eq": "deep-64"}}})["examples"]["nodes"]
    assert page == [{"executionId": "deep-64", "businessState": nested(64)}]


async def test_datetimes_outside_1900_to_9999_are_refused_in_records_and_filters(
    curator: GraphQLClient, db: asyncpg.Connection
) -> None:
    for moment in ("0001-01-01T00:00:00", "1899-12-31T23:59:59Z", "9999-12-31T23:00:00-05:00"):
        body = curator.execute(RECORD, {"examples": [example("t-1", createdAt=moment)]})
        assert body.get("errors") and "between 1900-01-01T00:00:00Z and 9999-12-31T23:59:59Z" in str(body), body
        body = curator.execute(PAGE, {"f": {"createdAt": {"gte": moment}}})
        assert body.get("errors") and "between 1900-01-01T00:00:00Z and 9999-12-31T23:59:59Z" in str(body), body
        assert "INTERNAL_SERVER_ERROR" not in str(body)
    assert await db.fetchval("SELECT count(*) FROM examples") == 0
    for moment in ("1900-01-01T00:00:00Z", "9999-12-31T12:00:00Z"):
        curator.data(RECORD, {"examples": [example(f"edge-{moment[:4]}", createdAt=moment)]})
    found = curator.data(PAGE, {"f": {"createdAt": {"gte": "1900-01-01T00:00:00Z", "lte": "9999-12-31T23:59:59Z"}}})
    assert len(found["examples"]["nodes"]) == 2
