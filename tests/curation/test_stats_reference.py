"""stats against a straightforward computation over the rows themselves, on examples written straight to the tables:
archived ones, examples without a score, an outcome, an intent or a tag, scores of exactly 0 and 1, and filters on tags.
Every figure of the one scan (and of a histogram with another bucket count) must match."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from tuneyard.curation.stats import Stats

Row = dict[str, Any]
START = datetime(2025, 3, 1, tzinfo=UTC)
TAGS = ["a", "b", "dev", "Z", "é"]


def generated_rows(count: int) -> list[Row]:
    rng = random.Random(7)
    rows = []
    for i in range(count):
        score = rng.choice([None, 0.0, 1.0, 0.5, round(rng.random(), 3), round(rng.random(), 3)])
        rows.append({
            "execution_id": f"ref-{i}", "intent": rng.choice([None, "publish", "reply", "analyze"]),
            "platform": rng.choice([None, "blog", "x"]), "model_id": rng.choice([None, "m1", "m2"]),
            "quality_score": score, "success": rng.choice([None, True, False, True]),
            "archived": rng.random() < 0.15, "created_at": START + timedelta(hours=i, minutes=rng.randrange(60)),
            "tags": sorted(rng.sample(TAGS, rng.choice([0, 0, 1, 2, 3]))),
        })  # fmt: skip
    return rows


async def store(pool: asyncpg.Pool, rows: list[Row]) -> None:
    columns = ["execution_id", "intent", "platform", "model_id", "quality_score", "success", "archived", "created_at"]
    ids = await pool.fetch(
        f"""INSERT INTO examples (user_request, {", ".join(columns)})
        SELECT 'request', * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::float8[], $6::bool[],
                                        $7::bool[], $8::timestamptz[])
        RETURNING id, execution_id""",
        *([r[c] for r in rows] for c in columns),
    )
    id_of = {r["execution_id"]: r["id"] for r in ids}
    tagged = [(id_of[r["execution_id"]], r["tags"]) for r in rows if r["tags"]]
    await pool.executemany("INSERT INTO example_tags (example_id, tags) VALUES ($1, $2)", tagged)


def histogram(chosen: list[Row], buckets: int) -> list[int]:
    """Equal-width buckets over [0, 1], as width_bucket computes them; 1 in the last, no score in none."""
    counts = Counter(min(int(buckets * r["quality_score"] / 1.0), buckets - 1) for r in chosen
                     if r["quality_score"] is not None)  # fmt: skip
    return [counts.get(i, 0) for i in range(buckets)]


def ranked(counts: Counter[str]) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))


def by(chosen: list[Row], column: str) -> list[tuple[str, int]]:
    return ranked(Counter(r[column] for r in chosen if r[column] is not None))


FILTERS: list[tuple[dict[str, Any] | None, Callable[[Row], bool]]] = [
    (None, lambda r: not r["archived"]),
    (
        {"qualityScore": {"gte": 0.5}, "tags": {"containsNone": ["dev"]}},
        lambda r: not r["archived"] and (r["quality_score"] or -1) >= 0.5 and "dev" not in r["tags"],
    ),
    ({"tags": {"containsAny": ["a", "é"]}}, lambda r: not r["archived"] and bool({"a", "é"} & set(r["tags"]))),
    ({"tags": {"isEmpty": True}, "success": True}, lambda r: not r["archived"] and not r["tags"] and r["success"]),
    ({"archived": True}, lambda r: r["archived"]),
    ({"qualityScore": {"isNull": True}}, lambda r: not r["archived"] and r["quality_score"] is None),
    ({"intent": {"eq": "nothing-has-this"}}, lambda r: False),
]


@pytest.mark.parametrize(("spec", "matches"), FILTERS, ids=[str(spec) for spec, _ in FILTERS])
async def test_every_figure_matches_the_rows(
    pool: asyncpg.Pool, spec: dict[str, Any] | None, matches: Callable[[Row], bool]
) -> None:
    rows = generated_rows(400)
    await store(pool, rows)
    chosen = [r for r in rows if matches(r)]
    scores = [r["quality_score"] for r in chosen if r["quality_score"] is not None]
    outcomes = [r["success"] for r in chosen if r["success"] is not None]

    stats = Stats(pool, spec, 10)
    summary = await stats.summary()
    assert summary.count == len(chosen)
    assert summary.avg_quality_score == (pytest.approx(sum(scores) / len(scores)) if scores else None)
    assert summary.success_rate == (pytest.approx(sum(outcomes) / len(outcomes)) if outcomes else None)
    assert summary.earliest == (min(r["created_at"] for r in chosen) if chosen else None)
    assert summary.latest == (max(r["created_at"] for r in chosen) if chosen else None)
    assert await stats.total_not_archived() == sum(not r["archived"] for r in rows)
    for buckets in (10, 3):  # the scan's own bucket count, and another (a query of its own)
        found = await stats.quality_histogram(buckets)
        assert [b.count for b in found] == histogram(chosen, buckets), buckets
        assert (found[0].lower, found[-1].upper) == (0.0, 1.0)
    assert await stats.counts_by("tag") == ranked(Counter(t for r in chosen for t in r["tags"]))
    for grouping, column in (("intent", "intent"), ("platform", "platform"), ("model", "model_id")):
        assert await stats.counts_by(grouping) == by(chosen, column), grouping


def test_the_rows_cover_the_edge_cases() -> None:
    """The generated rows hold what the figures above must get right, so that none of it is tested by luck."""
    live = [r for r in generated_rows(400) if not r["archived"]]
    assert {0.0, 1.0, None} <= {r["quality_score"] for r in live}
    assert {True, False, None} <= {r["success"] for r in live}
    assert any(not r["tags"] for r in live) and any(len(r["tags"]) > 1 for r in live)
    assert any(r["intent"] is None for r in live) and any(r["model_id"] is None for r in live)
