"""The seed's curation workflows over HTTP, each count checked against an independent computation."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from bench.data import examples as generate
from tests.support import RECORD, GraphQLClient
from tests.support.oracle import matches

COUNT = 3000
CUTOFF = datetime(2025, 12, 1, tzinfo=UTC)
TAG = """mutation($where: ExampleFilter!, $add: [String!], $remove: [String!], $note: String) {
  tagExamples(where: $where, add: $add, remove: $remove, note: $note) { id added removed affectedCount note undoneAt }
}"""
UNDO = "mutation($id: ID!) { undoTagOperation(id: $id) { id affectedCount undoneAt } }"
STATS = """query($filter: ExampleFilter) { stats(filter: $filter) {
  count totalCount avgQualityScore successRate earliest latest
  qualityHistogram(buckets: 10) { lower upper count } byTag { key count } byIntent { key count } byPlatform { key count }
} }"""


async def load(client: GraphQLClient, db: asyncpg.Connection, count: int = COUNT) -> list[dict[str, Any]]:
    rows = list(generate(count, seed=11, prefix="cur"))
    for i in range(0, count, 1000):
        client.data(RECORD, {"examples": rows[i : i + 1000]})
    return await snapshot(db)


async def snapshot(db: asyncpg.Connection) -> list[dict[str, Any]]:
    return [dict(r) for r in await db.fetch("SELECT * FROM example_rows ORDER BY id")]


def ids_of(rows: list[dict[str, Any]], spec: dict[str, Any]) -> set[int]:
    return {r["id"] for r in rows if matches(r, spec)}


def tag(client: GraphQLClient, where: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    result: dict[str, Any] = client.data(TAG, {"where": where, **kwargs})["tagExamples"]
    return result


def stats(client: GraphQLClient, spec: dict[str, Any] | None) -> dict[str, Any]:
    result: dict[str, Any] = client.data(STATS, {"filter": spec})["stats"]
    return result


async def test_seed_workflow_tag_filter_undo(curator: GraphQLClient, db: asyncpg.Connection) -> None:
    original = rows = await load(curator, db)
    before_dev = {"createdAt": {"lt": CUTOFF.isoformat()}}
    expected_dev = ids_of(rows, before_dev)
    already_dev = {r["id"] for r in rows if "development" in r["tags"] and r["id"] in expected_dev}
    dev = tag(curator, before_dev, add=["development"], note="dev junk before launch")
    assert dev["affectedCount"] == len(expected_dev - already_dev) > 0
    assert dev["added"] == ["development"] and dev["note"] == "dev junk before launch"

    low = {"qualityScore": {"lt": 0.7}}
    rows = await snapshot(db)
    expected_low = {r["id"] for r in rows if matches(r, low) and "low_quality" not in r["tags"]}
    low_op = tag(curator, low, add=["low_quality"])
    assert low_op["affectedCount"] == len(expected_low)

    rows = await snapshot(db)
    assert {r["id"] for r in rows if "development" in r["tags"]} >= expected_dev
    assert all(r["tags"] == sorted(set(r["tags"])) for r in rows), "tags stay a sorted set"

    usable = {"tags": {"containsNone": ["development", "test"]}, "qualityScore": {"gte": 0.8}}
    got = stats(curator, usable)
    expected = [r for r in rows if matches(r, usable)]
    assert got["count"] == len(expected)
    assert got["totalCount"] == COUNT  # "Using count of totalCount"
    page = curator.data(
        "query($f: ExampleFilter) { examples(filter: $f, first: 500) { totalCount nodes { id } } }", {"f": usable}
    )["examples"]
    assert page["totalCount"] == len(expected)

    # Undo the low_quality tagging: exactly those examples lose exactly that tag.
    undone = curator.data(UNDO, {"id": low_op["id"]})["undoTagOperation"]
    assert undone["undoneAt"] is not None
    after = {r["id"]: r["tags"] for r in await snapshot(db)}
    assert not any("low_quality" in t for t in after.values())
    originally_dev = {r["id"] for r in rows if "development" in r["tags"]} - expected_dev
    assert {i for i, t in after.items() if "development" in t} == expected_dev | originally_dev
    again = curator.error(UNDO, {"id": low_op["id"]})
    assert again["extensions"]["code"] == "CONFLICT" and "already undone" in again["message"]

    # Both undone: every example has exactly the tags it was recorded with.
    curator.data(UNDO, {"id": dev["id"]})
    assert [r["tags"] for r in await snapshot(db)] == [r["tags"] for r in original]


async def test_undo_leaves_later_changes_alone(curator: GraphQLClient, db: asyncpg.Connection) -> None:
    rows = await load(curator, db, 500)
    first = tag(curator, {"platform": {"eq": "blog"}}, add=["reviewed", "blog_batch"], remove=["bad"])
    blog = ids_of(rows, {"platform": {"eq": "blog"}})
    had_bad = {r["id"] for r in rows if r["id"] in blog and "bad" in r["tags"]}
    # A later operation touches the same examples; undoing the first must keep what the later one did.
    tag(curator, {"platform": {"eq": "blog"}}, add=["second"])
    curator.data(UNDO, {"id": first["id"]})
    for r in await snapshot(db):
        original = next(o for o in rows if o["id"] == r["id"])
        want = set(original["tags"]) | ({"second"} if r["id"] in blog else set())
        assert set(r["tags"]) == want, (r["id"], r["tags"], original["tags"])
        if r["id"] in had_bad:
            assert "bad" in r["tags"]


async def test_tag_by_ids_and_its_bounds(curator: GraphQLClient, db: asyncpg.Connection) -> None:
    rows = await load(curator, db, 50)
    chosen = [str(r["id"]) for r in rows[:7]]
    op = tag(curator, {"ids": chosen}, add=["picked"])
    assert op["affectedCount"] == 7
    assert tag(curator, {"ids": chosen}, add=["picked"])["affectedCount"] == 0, "tags stay a set"
    assert curator.error(TAG, {"where": {}, "add": []})["extensions"]["code"] == "BAD_USER_INPUT"
    both = curator.error(TAG, {"where": {}, "add": ["x"], "remove": ["x"]})
    assert "both added and removed" in both["message"]
    ops = curator.data("{ tagOperations(first: 10) { id affectedCount } }")["tagOperations"]
    assert [o["affectedCount"] for o in ops[:2]] == [0, 7]
    assert int(ops[0]["id"]) > int(ops[1]["id"]), "newest first"
    assert curator.error(UNDO, {"id": "424242"})["extensions"]["code"] == "NOT_FOUND"


async def test_archive_a_date_range_and_restore_it(curator: GraphQLClient, db: asyncpg.Connection) -> None:
    rows = await load(curator, db, 1000)
    march = {"createdAt": {"gte": "2025-03-01T00:00:00+00:00", "lt": "2025-04-01T00:00:00+00:00"}}
    expected = ids_of(rows, march)
    archived = curator.data(
        "mutation($w: ExampleFilter!) { archiveExamples(where: $w) { affectedCount } }", {"w": march}
    )
    assert archived["archiveExamples"]["affectedCount"] == len(expected) > 0
    assert stats(curator, None)["count"] == 1000 - len(expected)
    assert stats(curator, None)["totalCount"] == 1000 - len(expected)
    assert stats(curator, {"archived": True})["count"] == len(expected)
    listed = curator.data("{ examples(first: 500, filter: {archived: true}) { nodes { id archived } } }")
    assert {int(n["id"]) for n in listed["examples"]["nodes"]} == expected
    assert await db.fetchval("SELECT count(*) FROM examples") == 1000, "nothing is deleted"
    restored = curator.data(
        "mutation($w: ExampleFilter!) { restoreExamples(where: $w) { affectedCount } }", {"w": march}
    )
    assert restored["restoreExamples"]["affectedCount"] == len(expected)
    assert stats(curator, None)["count"] == 1000


async def test_stats_match_an_independent_computation(curator: GraphQLClient, db: asyncpg.Connection) -> None:
    rows = await load(curator, db, 2000)
    spec = {"intent": {"in": ["publish", "create_content"]}, "success": True}
    got = stats(curator, spec)
    chosen = [r for r in rows if matches(r, spec)]
    scores = [r["quality_score"] for r in chosen if r["quality_score"] is not None]
    assert got["count"] == len(chosen)
    assert got["avgQualityScore"] == pytest.approx(sum(scores) / len(scores))
    assert got["successRate"] == pytest.approx(1.0)
    assert got["earliest"] == min(r["created_at"] for r in chosen).isoformat()
    assert got["latest"] == max(r["created_at"] for r in chosen).isoformat()
    histogram = Counter(min(int(s * 10), 9) for s in scores)
    assert [b["count"] for b in got["qualityHistogram"]] == [histogram.get(i, 0) for i in range(10)]
    assert got["qualityHistogram"][0] == {"lower": 0.0, "upper": 0.1, "count": histogram.get(0, 0)}
    tags = Counter(t for r in chosen for t in r["tags"])
    assert {b["key"]: b["count"] for b in got["byTag"]} == dict(tags)
    assert {b["key"]: b["count"] for b in got["byIntent"]} == dict(Counter(r["intent"] for r in chosen))
    assert {b["key"]: b["count"] for b in got["byPlatform"]} == dict(Counter(r["platform"] for r in chosen))
    counts = [b["count"] for b in got["byIntent"]]
    assert counts == sorted(counts, reverse=True)
    bad = curator.error("{ stats { qualityHistogram(buckets: 101) { count } } }")
    assert "between 1 and 100" in bad["message"]


async def test_reader_may_not_curate(reader: GraphQLClient, db: asyncpg.Connection) -> None:
    for mutation in (
        'mutation { tagExamples(where: {}, add: ["x"]) { id } }',
        'mutation { undoTagOperation(id: "1") { id } }',
        "mutation { archiveExamples(where: {}) { affectedCount } }",
        "mutation { restoreExamples(where: {}) { affectedCount } }",
    ):
        assert reader.error(mutation)["extensions"]["code"] == "FORBIDDEN", mutation
    assert reader.data("{ stats { count } }") == {"stats": {"count": 0}}
