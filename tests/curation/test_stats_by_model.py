"""stats.byModel and stats by modelId over HTTP, each figure checked against an independent count of what was sent."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import asyncpg
import pytest

from bench.data import examples as generate
from tests.support import RECORD, GraphQLClient

# The model a production decision came from: three in use, one rare, and examples recorded without one.
MODELS = ["ft:gpt-4.1-mini:acme::v3", "ft:gpt-4.1-mini:acme::v4", "gemini-2.5-flash", "rare-model", None]
WEIGHTS = [40, 30, 20, 1, 15]
STATS = """query($filter: ExampleFilter) { stats(filter: $filter) {
  count avgQualityScore successRate byModel { key count } byIntent { key count }
} }"""


def sent_examples(count: int) -> list[dict[str, Any]]:
    rng = random.Random(4)
    rows = list(generate(count, seed=13, prefix="bm"))
    for row in rows:
        model = rng.choices(MODELS, WEIGHTS)[0]
        if model is not None:
            row["modelId"] = model
        if rng.random() < 0.1:  # some scores and outcomes unknown
            row["qualityScore"] = None
            row["success"] = None
    return rows


async def load(client: GraphQLClient, db: asyncpg.Connection, count: int) -> list[dict[str, Any]]:
    """Every example sent, each with `archived` as it is now."""
    rows = sent_examples(count)
    for i in range(0, count, 1000):
        client.data(RECORD, {"examples": rows[i : i + 1000]})
    # Archived examples are out of default stats: archive some, and leave them out of the expected figures.
    await db.execute("UPDATE examples SET archived = true WHERE id % 13 = 0")
    archived = {r["execution_id"] for r in await db.fetch("SELECT execution_id FROM examples WHERE archived")}
    return [{**r, "archived": r["executionId"] in archived} for r in rows]


def stats(client: GraphQLClient, spec: dict[str, Any] | None) -> dict[str, Any]:
    result: dict[str, Any] = client.data(STATS, {"filter": spec})["stats"]
    return result


def by_model(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Most frequent first, ties by key; examples without a model id left out (as byIntent leaves out no intent)."""
    counts = Counter(r["modelId"] for r in rows if r.get("modelId") is not None)
    return [{"key": k, "count": n} for k, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


async def test_by_model_counts_the_matching_examples(curator: GraphQLClient, db: asyncpg.Connection) -> None:
    sent = await load(curator, db, 2500)
    live = [r for r in sent if not r["archived"]]
    everything = stats(curator, None)
    assert everything["byModel"] == by_model(live)
    without = sum(1 for r in live if r.get("modelId") is None)
    assert sum(b["count"] for b in everything["byModel"]) == everything["count"] - without
    rare = sum(1 for r in live if r.get("modelId") == "rare-model")
    assert everything["byModel"][-1] == {"key": "rare-model", "count": rare} and rare > 0
    # Among the examples matching a filter, on any field.
    spec = {"intent": {"in": ["publish", "analyze"]}, "qualityScore": {"gte": 0.6}}
    chosen = [r for r in live if r["intent"] in ("publish", "analyze") and (r["qualityScore"] or -1) >= 0.6]
    got = stats(curator, spec)
    assert got["count"] == len(chosen) and got["byModel"] == by_model(chosen)
    # byIntent is unchanged by the extra grouping.
    assert {b["key"]: b["count"] for b in got["byIntent"]} == dict(Counter(r["intent"] for r in chosen))
    assert stats(curator, {"archived": True})["byModel"] == by_model([r for r in sent if r["archived"]])
    none = stats(curator, {"modelId": {"isNull": True}})
    assert none["byModel"] == [] and none["count"] == without


async def test_which_model_decides_better_in_production(curator: GraphQLClient, db: asyncpg.Connection) -> None:
    live = [r for r in await load(curator, db, 2000) if not r["archived"]]
    for model in MODELS[:-1]:
        mine = [r for r in live if r.get("modelId") == model]
        scores = [r["qualityScore"] for r in mine if r["qualityScore"] is not None]
        outcomes = [r["success"] for r in mine if r["success"] is not None]
        got = stats(curator, {"modelId": {"eq": model}})
        assert got["count"] == len(mine) > 0, model
        assert got["avgQualityScore"] == pytest.approx(sum(scores) / len(scores)), model
        assert got["successRate"] == pytest.approx(sum(outcomes) / len(outcomes)), model
        assert got["byModel"] == [{"key": model, "count": len(mine)}]
    # Two models side by side in one request, with aliases.
    both = curator.data(
        """query($a: String!, $b: String!) {
          a: stats(filter: {modelId: {eq: $a}}) { count avgQualityScore }
          b: stats(filter: {modelId: {eq: $b}}) { count avgQualityScore } }""",
        {"a": MODELS[0], "b": MODELS[1]},
    )
    assert both["a"]["count"] == sum(1 for r in live if r.get("modelId") == MODELS[0])
    assert both["b"]["count"] == sum(1 for r in live if r.get("modelId") == MODELS[1])
    assert stats(curator, {"modelId": {"eq": "never-used"}}) == {
        "count": 0, "avgQualityScore": None, "successRate": None, "byModel": [], "byIntent": [],
    }  # fmt: skip
