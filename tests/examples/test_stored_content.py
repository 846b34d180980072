"""checkExamples finds the stored examples that break today's record rules (written before the rules, or around
them): JSON too deep for the encoder, of the wrong shape, with unsafe integers; createdAt outside 1900-9999."""

from __future__ import annotations

from typing import Any

import asyncpg

from tests.support import RECORD, GraphQLClient

CHECK = "mutation { checkExamples(chunkSize: 2) { id } }"
JOB = "query($id: ID!) { job(id: $id) { status result } }"


def finished(client: GraphQLClient, job_id: str) -> dict[str, Any]:
    return client.finished_job(JOB, job_id, 60)


async def test_check_examples_reports_stored_content_that_breaks_the_rules(
    curator: GraphQLClient, db: asyncpg.Connection
) -> None:
    curator.data(RECORD, {"examples": [{"executionId": "good", "userRequest": "r", "businessState": {"a": [1]}}]})
    deep = '{"n": ' * 254 + "1" + "}" * 254  # the probe's value: every listing holding it answered 500
    await db.execute(
        """
        INSERT INTO examples (execution_id, user_request, business_state, execution_plan, execution_result, created_at)
        VALUES ('deep', 'r', $1::text::jsonb, NULL, NULL, now()),
               ('scalar', 'r', '5', '"draft"', '[1]', now()),
               ('big', 'r', '{"id": 9007199254740993}', '{"n": 123456789012345678901234567890}', NULL, now()),
               ('old', 'r', NULL, NULL, NULL, '0001-01-01T00:00:00Z')
        """,
        deep,
    )
    job_id = curator.data(CHECK)["checkExamples"]["id"]
    result = finished(curator, job_id)["result"]
    found = {(p["executionId"], p["field"]): p["message"] for p in result["problems"]}
    assert found == {
        ("deep", "businessState"): "arrays and objects nest more than 64 levels",
        ("scalar", "businessState"): "must be an object (or null), got a number",
        ("scalar", "executionPlan"): "must be an object or an array (or null), got a string",
        ("big", "businessState"): "integer at id = 9007199254740993 is outside +-2^53 (JSON readers would round it); "
        "send it as a string",
        ("big", "executionPlan"): "integer at n = 123456789012345678901234567890 is outside +-2^53 (JSON readers "
        "would round it); send it as a string",
        ("old", "createdAt"): "0001-01-01 00:00:00+00 is outside 1900-01-01 to 9999-12-31 (UTC)",
    }
    assert result["contentProblems"] == 6 and result["examined"] == 5 and result["complete"]
    assert all(p["exampleId"].isdigit() for p in result["problems"])
