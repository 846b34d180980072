"""JSON fields over real HTTP: objects where the contract means objects, integers within +-2^53 (JavaScript's safe
range), each refusal a BAD_USER_INPUT naming the example, the field and the place inside it; nothing written."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from tests.support import RECORD, GraphQLClient

READ = "query($f: ExampleFilter) { examples(filter: $f) { nodes { executionId businessState executionPlan } } }"


def example(execution_id: str, **more: Any) -> dict[str, Any]:
    return {"executionId": execution_id, "userRequest": "plan a post", **more}


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("businessState", 5, "must be an object (or null), got a number"),
        ("businessState", "str", "must be an object (or null), got a string"),
        ("businessState", [1, 2], "must be an object (or null), got an array"),
        ("postPublicationMetrics", True, "must be an object (or null), got a boolean"),
        ("executionPlan", "draft, publish", "must be an object or an array (or null), got a string"),
        ("executionResult", 0.5, "must be an object or an array (or null), got a number"),
    ],
)
async def test_json_fields_have_the_shape_the_contract_means(
    curator: GraphQLClient, db: asyncpg.Connection, field: str, value: Any, reason: str
) -> None:
    error = curator.error(RECORD, {"examples": [example("ok"), example("bad", **{field: value})]})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"] == f"examples[1].{field}: {reason}"
    assert await db.fetchval("SELECT count(*) FROM examples") == 0


async def test_plans_and_results_may_be_arrays(curator: GraphQLClient, db: asyncpg.Connection) -> None:
    batch = [example("arr", executionPlan=["draft", "publish"], executionResult=[{"id": 1}], businessState={})]
    assert curator.data(RECORD, {"examples": batch})["recordExamples"]["inserted"] == 1
    found = curator.data(READ, {"f": {"executionId": {"eq": "arr"}}})["examples"]["nodes"]
    assert found == [{"executionId": "arr", "businessState": {}, "executionPlan": ["draft", "publish"]}]


@pytest.mark.parametrize("number", [2**53 + 1, -(2**53) - 1, 2**63 - 1])
async def test_integers_outside_the_safe_range_are_refused_with_their_path(
    curator: GraphQLClient, db: asyncpg.Connection, number: int
) -> None:
    state = {"account": {"ids": [1, number]}}
    error = curator.error(RECORD, {"examples": [example("big", businessState=state)]})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"] == (
        f"examples[0].businessState: integer at account.ids[1] = {number} is outside +-2^53 "
        "(JSON readers would round it); send it as a string"
    )
    assert await db.fetchval("SELECT count(*) FROM examples") == 0


async def test_safe_integers_and_long_numbers_in_strings_are_kept(
    curator: GraphQLClient, db: asyncpg.Connection
) -> None:
    state = {"max": 2**53, "min": -(2**53), "id": "12345678901234567890", "ratio": 0.12345678901234567}
    assert curator.data(RECORD, {"examples": [example("safe", businessState=state)]})["recordExamples"]["inserted"]
    found = curator.data(READ, {"f": {"executionId": {"eq": "safe"}}})["examples"]["nodes"][0]["businessState"]
    assert found == state


async def test_an_integer_literal_in_the_query_text_is_checked_too(
    curator: GraphQLClient, db: asyncpg.Connection
) -> None:
    literal = 'mutation { recordExamples(examples: [{executionId: "lit", userRequest: "r", ' \
        'businessState: {n: 123456789012345678901234567890}}]) { inserted } }'  # fmt: skip
    error = curator.error(literal)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "examples[0].businessState: integer at n = 123456789012345678901234567890 is outside" in error["message"]
    assert await db.fetchval("SELECT count(*) FROM examples") == 0
