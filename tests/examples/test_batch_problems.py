"""A bad batch over real HTTP: every problem reported (up to 100, each with its index and field) in the error's
extensions, nothing written; and a filter that would need more SQL parameters than PostgreSQL takes is refused."""

from __future__ import annotations

from typing import Any

import asyncpg

from tests.support import RECORD, GraphQLClient

COUNT = "query($f: ExampleFilter) { examples(filter: $f) { totalCount } }"


def example(execution_id: str, **more: Any) -> dict[str, Any]:
    return {"executionId": execution_id, "userRequest": "plan a post", **more}


async def test_every_problem_of_a_batch_is_reported(curator: GraphQLClient, db: asyncpg.Connection) -> None:
    batch = [
        example("ok-0"),
        example("bad-1", qualityScore=2.0, intent="i" * 101),
        example("ok-2"),
        example("bad-3", userRequest=" ", businessState=[1], tags=[""]),
        example("ok-0"),
    ]
    error = curator.error(RECORD, {"examples": batch})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"] == (
        "examples[1].qualityScore: must be between 0 and 1, got 2.0 (and 5 more problems: see extensions.problems)"
    )
    problems = [(p["index"], p["field"]) for p in error["extensions"]["problems"]]
    assert problems == [
        (1, "qualityScore"), (1, "intent"), (3, "userRequest"), (3, "tags"), (3, "businessState"),
        (4, "executionId"),
    ]  # fmt: skip
    assert error["extensions"]["problemCount"] == 6
    assert error["extensions"]["problems"][-1]["message"] == "'ok-0' appears twice in the batch (also at index 0)"
    assert await db.fetchval("SELECT count(*) FROM examples") == 0


async def test_at_most_100_problems_are_listed_and_all_are_counted(
    curator: GraphQLClient, db: asyncpg.Connection
) -> None:
    batch = [example(f"e-{i}", qualityScore=-1, platform="p" * 101) for i in range(300)]
    error = curator.error(RECORD, {"examples": batch})
    assert len(error["extensions"]["problems"]) == 100
    assert error["extensions"]["problemCount"] == 600
    assert error["extensions"]["problems"][99] == {
        "index": 49,
        "field": "platform",
        "message": "at most 100 characters",
    }
    assert await db.fetchval("SELECT count(*) FROM examples") == 0


async def test_a_filter_needing_too_many_sql_parameters_is_refused(
    curator: GraphQLClient, db: asyncpg.Connection
) -> None:
    leaf = {"intent": {"eq": "x"}, "platform": {"neq": "y"}}
    within = {"or": [{"and": [leaf] * 16} for _ in range(1000)]}  # 32,000 parameters: the most a filter may use
    assert curator.data(COUNT, {"f": within})["examples"]["totalCount"] == 0
    over = {"or": [{"and": [leaf] * 16} for _ in range(999)] + [{"and": [leaf] * 17}]}  # 32,002
    error = curator.error(COUNT, {"f": over})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"].startswith("filter: needs more than 32,000 SQL parameters")
