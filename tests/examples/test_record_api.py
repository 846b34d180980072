"""recordExamples, example and examples over real HTTP to a running server."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx

from tests.support import RECORD, GraphQLClient, Server

FIELDS = """id executionId userRequest intent platform businessState executionPlan executionResult
qualityScore success tags archived postPublicationMetrics patternsDiscovered createdAt updatedAt"""


def example(i: int, **changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "executionId": f"exec-{i}",
        "userRequest": f"Write a LinkedIn post about launch {i}",
        "intent": "create_content",
        "platform": "linkedin",
        "businessState": {"followers": 1200 + i, "campaign": {"name": "autumn"}},
        "executionPlan": {"steps": ["draft", "review", "publish"]},
        "executionResult": {"postId": f"p{i}"},
        "qualityScore": 0.85,
        "success": True,
        "tags": ["prod", "launch"],
        "createdAt": f"2025-11-{(i % 28) + 1:02d}T10:00:00+00:00",
        "postPublicationMetrics": {"likes": 10 * i},
        "patternsDiscovered": ["short-hooks"],
    }
    base.update(changes)
    return base


def record(client: GraphQLClient, examples: list[dict[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = client.data(RECORD, {"examples": examples})["recordExamples"]
    return result


async def test_record_then_fetch_round_trip(curator: GraphQLClient, db: asyncpg.Connection) -> None:
    sent = example(1, tags=["prod", "launch", "prod"])
    assert record(curator, [sent]) == {"inserted": 1, "updated": 0, "unchanged": 0}

    page = curator.data(f"{{ examples(first: 10) {{ totalCount totalCountExact nodes {{ {FIELDS} }} }} }}")["examples"]
    assert (page["totalCount"], page["totalCountExact"]) == (1, True)
    # Counted from the examples (a word search: the summary cannot answer it), within the budget: exact too.
    words = curator.data('{ examples(filter: {text: "linkedin post"}) { totalCount totalCountExact } }')["examples"]
    assert words == {"totalCount": 1, "totalCountExact": True}
    got = page["nodes"][0]
    for key in (
        "executionId",
        "userRequest",
        "intent",
        "platform",
        "businessState",
        "executionPlan",
        "executionResult",
        "qualityScore",
        "success",
        "postPublicationMetrics",
        "patternsDiscovered",
    ):
        assert got[key] == sent[key], key
    assert got["tags"] == ["launch", "prod"]  # a set: sorted, no duplicates
    assert got["archived"] is False
    assert got["createdAt"].startswith("2025-11-02T10:00:00")

    single = curator.data("query($id: ID!) { example(id: $id) { executionId qualityScore } }", {"id": got["id"]})
    assert single["example"] == {"executionId": "exec-1", "qualityScore": 0.85}
    assert curator.data('{ example(id: "999999") { id } }')["example"] is None


async def test_resend_is_idempotent_and_changes_are_counted(curator: GraphQLClient, db: asyncpg.Connection) -> None:
    batch = [example(i) for i in range(5)]
    assert record(curator, batch) == {"inserted": 5, "updated": 0, "unchanged": 0}
    before = await db.fetch("SELECT execution_id, updated_at FROM examples ORDER BY id")
    assert record(curator, batch) == {"inserted": 0, "updated": 0, "unchanged": 5}
    assert await db.fetch("SELECT execution_id, updated_at FROM examples ORDER BY id") == before

    batch[1]["qualityScore"] = 0.4
    batch[2]["tags"] = ["reviewed"]
    batch.append(example(9))
    assert record(curator, batch) == {"inserted": 1, "updated": 2, "unchanged": 3}
    # Re-recording never drops a curator's tag: tags from the orchestrator join the existing set.
    assert await db.fetchval("SELECT tags FROM example_rows WHERE execution_id = 'exec-2'") == [
        "launch",
        "prod",
        "reviewed",
    ]


async def test_resend_without_created_at_keeps_the_original_time(
    curator: GraphQLClient, db: asyncpg.Connection
) -> None:
    first = example(1)
    del first["createdAt"]
    record(curator, [first])
    created = await db.fetchval("SELECT created_at FROM examples")
    assert record(curator, [first]) == {"inserted": 0, "updated": 0, "unchanged": 1}
    assert await db.fetchval("SELECT created_at FROM examples") == created


async def _rejected(client: GraphQLClient, db: asyncpg.Connection, batch: list[dict[str, Any]], *needles: str) -> None:
    error = client.error(RECORD, {"examples": batch})
    for needle in needles:
        assert needle in error["message"], error
    assert await db.fetchval("SELECT count(*) FROM examples") == 0, "a rejected batch must write nothing"


async def test_bad_batches_are_rejected_whole(curator: GraphQLClient, db: asyncpg.Connection) -> None:
    good = [example(i) for i in range(3)]
    await _rejected(curator, db, [*good, example(3, qualityScore=1.5)], "examples[3].qualityScore", "between 0 and 1")
    await _rejected(curator, db, [*good, example(3, qualityScore=-0.01)], "examples[3].qualityScore")
    await _rejected(curator, db, [example(0, userRequest=""), *good[1:]], "examples[0].userRequest", "empty")
    await _rejected(curator, db, [example(i) for i in range(1001)], "at most 1000 examples per call, got 1001")
    huge = {"blob": "x" * 300_000}
    await _rejected(curator, db, [*good, example(3, executionPlan=huge)], "examples[3].executionPlan", "bytes of JSON")
    await _rejected(curator, db, [*good, example(0)], "examples[3].executionId", "appears twice")
    # Wrong types are refused by GraphQL's own coercion, which names the path too.
    await _rejected(curator, db, [*good, example(3, qualityScore="high")], "$examples", "[3].qualityScore", "Float")
    await _rejected(curator, db, [*good, example(3, success="yes")], "[3].success", "Boolean")
    await _rejected(curator, db, [*good, example(3, tags=[1])], "[3].tags")
    await _rejected(curator, db, [*good, example(3, createdAt="yesterday")], "[3].createdAt")
    await _rejected(curator, db, [{"userRequest": "no id"}], "[0]", "executionId")
    error = curator.error(RECORD, {"examples": [example(0, qualityScore=2)]})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


async def test_examples_pages_newest_first(curator: GraphQLClient, db: asyncpg.Connection) -> None:
    record(curator, [example(i, createdAt=f"2025-10-01T00:00:{i:02d}+00:00") for i in range(7)])
    seen, after = [], None
    while True:
        page = curator.data(
            "query($after: String) { examples(first: 3, after: $after) { pageInfo { hasNextPage endCursor }"
            " edges { cursor node { executionId } } } }",
            {"after": after},
        )["examples"]
        seen += [edge["node"]["executionId"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
        assert after == page["edges"][-1]["cursor"]
    assert seen == [f"exec-{i}" for i in reversed(range(7))]
    error = curator.error('{ examples(after: "forged") { nodes { id } } }')
    assert "not a cursor this server issued" in error["message"]
    assert curator.error("{ examples(first: 501) { nodes { id } } }")["extensions"]["code"] == "BAD_USER_INPUT"


def test_missing_or_bad_token_is_401(server: Server) -> None:
    query = {"query": "{ examples { totalCount } }"}
    missing = httpx.post(f"{server.url}/graphql", json=query)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert missing.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    bad = httpx.post(f"{server.url}/graphql", json=query, headers={"Authorization": "Bearer ty_not-a-token"})
    assert bad.status_code == 401
    assert "unknown or revoked token" in bad.json()["errors"][0]["message"]
    malformed = httpx.post(f"{server.url}/graphql", json=query, headers={"Authorization": "Basic abc"})
    assert malformed.status_code == 401


async def test_reader_reads_but_may_not_record(reader: GraphQLClient, db: asyncpg.Connection) -> None:
    error = reader.error(RECORD, {"examples": [example(1)]})
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert "CURATOR" in error["message"]
    assert await db.fetchval("SELECT count(*) FROM examples") == 0
    assert reader.data("{ examples { totalCount } }") == {"examples": {"totalCount": 0}}


def test_graphiql_page_and_health(server: Server) -> None:
    page = httpx.get(f"{server.url}/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "graphiql" in page.text.lower()
    # Every script and style comes from this server, none from a CDN: it works without internet. (The one other
    # link, "/", goes back to the dashboard.)
    sources = [s for s in re.findall(r'(?:src|href)="([^"]+)"', page.text) if s != "/"]
    assert sources and all(s.startswith("/graphiql/") for s in sources), sources
    for source in sources:
        asset = httpx.get(f"{server.url}{source}")
        assert asset.status_code == 200 and len(asset.content) > 500, source
    assert httpx.get(f"{server.url}/graphiql/..%2Fsecrets").status_code == 404
    health = httpx.get(f"{server.url}/healthz")
    assert health.json() == {"status": "ok", "database": "ok", "redis": "ok"}


async def test_times_read_as_python_writes_them(curator: GraphQLClient, db: asyncpg.Connection) -> None:
    # Pages read times as text PostgreSQL formats: the same text datetime.isoformat() gives, fraction or not.
    times = ["2025-01-01T00:00:00+00:00", "2025-01-01T00:00:00.100000+00:00", "2025-01-01T00:00:00.000001+00:00",
             "2025-06-30T23:59:59.999999+00:00", "2025-03-01T12:00:00-05:00"]  # fmt: skip
    record(curator, [example(i, executionId=f"time-{i}", createdAt=at) for i, at in enumerate(times)])
    page = curator.data(
        "{ examples(first: 10, orderBy: CREATED_AT_ASC) { nodes { executionId createdAt updatedAt } } }"
    )
    stored = dict(await db.fetch("SELECT execution_id, updated_at FROM examples"))
    nodes = page["examples"]["nodes"]
    expected = sorted(
        (datetime.fromisoformat(at).astimezone(UTC).isoformat(), f"time-{i}") for i, at in enumerate(times)
    )
    assert [(n["createdAt"], n["executionId"]) for n in nodes] == expected
    assert all(n["updatedAt"] == stored[n["executionId"]].isoformat() for n in nodes)
    one = curator.data(
        '{ example(id: "%s") { createdAt } }'
        % (await db.fetchval("SELECT id FROM examples WHERE execution_id = 'time-1'"))
    )
    assert one["example"]["createdAt"] == "2025-01-01T00:00:00.100000+00:00"
