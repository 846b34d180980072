"""The example summary (migration 0017) stays exactly what a count over the examples gives, through every kind of
write: recording, re-recording with changes, tagging and its undo, archive and restore, purge, TRUNCATE, and writers
running at the same time. Counts and stats read from it equal those scanned from the examples."""

from __future__ import annotations

import asyncio
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from tests.support.datasets import new_examples
from tuneyard.core.page import Count
from tuneyard.curation import service as curation
from tuneyard.curation import stats_repository as stats_sql
from tuneyard.examples import repository as examples_repository
from tuneyard.examples import service as examples
from tuneyard.examples.summary_filter import DAY_ROWS, MONTH_ROWS

START = datetime(2025, 5, 30, 22, tzinfo=UTC)  # near midnight, and some ten weeks on: across days and months
KEY = "day, intent, platform, model_id, success, archived, quality_bin, tags"
# The summary as the examples make it now, and as the summary and its changes add up: they must always be equal.
FROM_EXAMPLES = f"""
SELECT (e.created_at AT TIME ZONE 'UTC')::date AS day, e.intent, e.platform, e.model_id, e.success, e.archived,
       example_quality_bin(e.quality_score) AS quality_bin, coalesce(t.tags, '{{}}') AS tags, count(*) AS n,
       coalesce(sum(e.quality_score::numeric), 0) AS score_sum
FROM examples e LEFT JOIN example_tags t ON t.example_id = e.id GROUP BY {KEY} ORDER BY {KEY}
"""
FROM_SUMMARY = """
SELECT {key}, sum(n) AS n, sum(score_sum) AS score_sum FROM {rows} s
GROUP BY {key} HAVING sum(n) <> 0 OR sum(score_sum) <> 0 ORDER BY {key}
"""
FILTERS: list[dict[str, Any] | None] = [
    None,
    {"intent": {"eq": "publish"}, "qualityScore": {"gte": 0.7}, "tags": {"containsNone": ["dev", "test"]}},
    {"createdAt": {"gte": "2025-06-03T00:00:00+00:00", "lt": "2025-06-05T00:00:00Z"}, "success": False},
    {"or": [{"tags": {"containsAll": ["a", "b"]}}, {"modelId": {"isNull": True}}], "archived": True},
    {"not": {"platform": {"in": ["blog"]}}, "qualityScore": {"lt": 0.35}},
    # ranges that start or end within a day: the summary's whole days, and the examples of the partial ones
    {"createdAt": {"gt": "2025-06-02T05:30:00+00:00", "lte": "2025-06-04T13:00:00Z"}, "tags": {"containsAny": ["a"]}},
    {"createdAt": {"gte": "2025-06-03T01:00:00Z", "lt": "2025-06-03T20:00:00Z"}},
    {"createdAt": {"lte": "2025-06-04T00:00:00Z"}, "intent": {"neq": "reply"}},
    {"createdAt": {"gte": "2025-06-02T23:59:59.999999+00:00"}},
    # ranges over whole months: month rows for those, day rows for the days around them, examples for partial days
    {"createdAt": {"gte": "2025-05-31T12:00:00Z", "lte": "2025-08-02T10:00:00Z"}, "success": True},
    {"createdAt": {"gt": "2025-06-15T03:00:00Z"}, "tags": {"containsNone": ["dev"]}},
    {"createdAt": {"lt": "2025-07-04T05:00:00Z"}},
    {"createdAt": {"gte": "2025-06-01T00:00:00Z", "lt": "2025-07-01T00:00:00Z"}},
]


def _inputs(count: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [
        {
            "executionId": f"sum-{rng.randrange(count * 2)}", "userRequest": f"request {i}",
            "intent": rng.choice([None, "publish", "reply"]), "platform": rng.choice([None, "blog", "x"]),
            "modelId": rng.choice([None, "m1"]), "qualityScore": rng.choice([None, 0.0, 1.0, 0.35, round(rng.random(), 3)]),
            "success": rng.choice([None, True, False]), "tags": rng.sample(["a", "b", "dev", "test"], rng.randrange(3)),
            "createdAt": (START + timedelta(hours=rng.randrange(24 * 70), minutes=rng.randrange(60))).isoformat(),
        }
        for i in range(count)
    ]  # fmt: skip


async def _record(pool: asyncpg.Pool, inputs: list[dict[str, Any]]) -> None:
    unique = list({r["executionId"]: r for r in inputs}.values())  # one batch names an example once
    await examples.record(pool, new_examples(unique))


async def _check(pool: asyncpg.Pool) -> None:
    by_day = [dict(r) for r in await pool.fetch(FROM_EXAMPLES)]
    assert [dict(r) for r in await pool.fetch(FROM_SUMMARY.format(key=KEY, rows=DAY_ROWS))] == by_day
    by_month: dict[tuple[Any, ...], list[Any]] = {}
    for row in by_day:
        key = (row["day"].replace(day=1), *(_hashable(row[k]) for k in KEY.split(", ")[1:]))
        by_month.setdefault(key, [0, 0])
        by_month[key][0] += row["n"]
        by_month[key][1] += row["score_sum"]
    months = await pool.fetch(FROM_SUMMARY.format(key=KEY, rows=MONTH_ROWS))
    assert {tuple(_hashable(r[k]) for k in KEY.split(", ")): [r["n"], r["score_sum"]] for r in months} == by_month
    for spec in FILTERS:
        where = examples.compile_filter(spec)
        assert where.summary is not None, spec
        scanned = replace(where, summary=None)
        assert await examples.count(pool, where) == await examples.count(pool, scanned), spec
        for buckets in (5, 20):
            from_summary = await stats_sql.aggregates(pool, where, buckets)
            from_scan = await stats_sql.aggregates(pool, scanned, buckets)
            assert _figures(from_summary) == _figures(from_scan), (spec, buckets)
        assert sorted(await stats_sql.counts_by_tag(pool, where)) == sorted(
            await stats_sql.counts_by_tag(pool, scanned)
        )


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _figures(aggregates: list[Any]) -> list[tuple[Any, ...]]:
    """Each aggregate's figures, the average rounded (the summary adds numerics, the scan doubles)."""
    return sorted(
        (a.grouping, str(a.key), a.summary.count, None if a.summary.avg_quality_score is None
         else round(a.summary.avg_quality_score, 9), a.summary.success_rate,
         a.summary.earliest if a.grouping == "all" else None, a.summary.latest if a.grouping == "all" else None)
        for a in aggregates
    )  # fmt: skip


async def test_the_summary_follows_every_kind_of_write(pool: asyncpg.Pool) -> None:
    await pool.execute("TRUNCATE tag_operations RESTART IDENTITY CASCADE")
    await _record(pool, _inputs(300, seed=1))
    await _check(pool)
    await _record(pool, _inputs(300, seed=2))  # re-records many of them with other values, and tags
    await _check(pool)
    op = await curation.tag_examples(pool, {"qualityScore": {"gte": 0.5}}, ["a", "fresh"], ["dev"], None)
    assert op.affected_count > 0
    await _check(pool)
    assert await curation.archive(pool, {"intent": {"eq": "reply"}}) > 0
    await _check(pool)
    await curation.undo_tag_operation(pool, str(op.id))
    await _check(pool)
    assert await curation.restore(pool, {"platform": {"eq": "x"}}) > 0
    await _check(pool)
    dry_run = await curation.purge(pool, {"tags": {"containsAny": ["a", "b"]}}, "")
    assert dry_run.deletable > 0
    await curation.purge(pool, {"tags": {"containsAny": ["a", "b"]}}, str(dry_run.deletable))
    await _check(pool)
    await pool.execute("UPDATE examples SET created_at = created_at + interval '3 hours' WHERE id % 3 = 0")
    await _check(pool)
    await pool.execute("TRUNCATE examples RESTART IDENTITY CASCADE")
    assert await pool.fetchval(f"SELECT count(*) FROM {DAY_ROWS} s") == 0
    assert await pool.fetchval(f"SELECT count(*) FROM {MONTH_ROWS} s") == 0


async def test_concurrent_writers_lose_none_of_each_others_counts(pool: asyncpg.Pool) -> None:
    await _record(pool, _inputs(200, seed=3))
    batches = [_inputs(150, seed=10 + i) for i in range(6)]
    await asyncio.gather(
        *(_record(pool, b) for b in batches),
        curation.tag_examples(pool, {"success": True}, ["b"], None, None),
        curation.archive(pool, {"modelId": {"eq": "m1"}, "qualityScore": {"lt": 0.2}}),
    )
    await _check(pool)


async def test_folding_moves_the_changes_into_the_summary_and_drops_emptied_rows(pool: asyncpg.Pool) -> None:
    await _record(pool, _inputs(100, seed=4))
    assert await pool.fetchval("SELECT count(*) FROM example_summary_changes") > 0
    pending = await pool.fetchval("SELECT count(*) FROM example_summary_changes")
    assert await pool.fetchval("SELECT example_summary_fold(1000000, 1000000)") == 0, "not due: left alone"
    assert await pool.fetchval("SELECT example_summary_fold(1, 10)") == 10, "at most 10 at a time"
    await _check(pool)
    assert await pool.fetchval("SELECT example_summary_fold(1, 1000000)") == pending - 10
    assert await pool.fetchval("SELECT count(*) FROM example_summary_changes") == 0
    await pool.execute("UPDATE examples SET archived = true")
    await pool.fetchval("SELECT example_summary_fold(1, 1000000)")
    assert await pool.fetchval("SELECT count(*) FROM example_summary WHERE NOT archived") == 0, "emptied rows go"
    await _check(pool)
    # What migration 0017 does to fill the summary of a database that has examples already.
    await pool.execute(
        "DELETE FROM example_summary; DELETE FROM example_summary_months; DELETE FROM example_summary_changes"
    )
    await pool.execute("SELECT example_summary_fill()")
    await _check(pool)


@pytest.mark.parametrize(
    ("spec", "answered"),
    [
        ({"text": "campaign"}, False),
        ({"ids": ["1"]}, False),
        ({"executionId": {"eq": "x"}}, False),
        ({"and": [{"intent": {"eq": "a"}}, {"text": "b"}]}, False),
        ({"createdAt": {"gte": "2025-06-03T00:00:00+00:00"}}, True),
        ({"createdAt": {"lt": "2025-06-03T02:00:00+02:00"}}, True),  # midnight UTC, written in another zone
        ({"createdAt": {"gte": "2025-06-03T10:00:00+00:00"}}, True),  # whole days, and the examples of the first
        ({"createdAt": {"gt": "2025-06-03T00:00:00+00:00", "lte": "2025-06-05T00:00:00"}}, True),
        ({"createdAt": {"gt": "2025-06-03T00:00:00+00:00", "gte": "2025-06-04T00:00:00Z"}}, False),  # two lower bounds
        ({"and": [{"createdAt": {"gte": "2025-06-03T10:00:00+00:00"}}]}, False),  # within a day, not at the top
        ({"and": [{"createdAt": {"gt": "2025-06-03T00:00:00+00:00"}}]}, False),  # excludes midnight itself
        ({"or": [{"createdAt": {"gte": "2025-06-03T00:00:00"}}]}, False),  # no zone, not at the top
        ({"qualityScore": {"gte": 0.35, "lt": 0.9}}, True),
        ({"qualityScore": {"gte": 0.0, "lte": 1.0}}, True),
        ({"qualityScore": {"gte": 0.36}}, False),
        ({"qualityScore": {"gt": 0.35}}, False),
        ({"qualityScore": {"eq": 0.5}}, False),
        ({"not": {"tags": {"isEmpty": True}}, "success": None}, True),
    ],
)
def test_what_the_summary_answers(spec: dict[str, Any], answered: bool) -> None:
    assert (examples.compile_filter(spec).summary is not None) is answered


async def test_a_count_the_summary_cannot_answer_is_exact_within_its_budget_and_an_estimate_past_it(
    pool: asyncpg.Pool,
) -> None:
    await _record(pool, _inputs(200, seed=5))
    words = examples.compile_filter({"text": "request"})
    assert words.summary is None and words.per_value_plan
    assert await examples.count(pool, words) == Count(await pool.fetchval("SELECT count(*) FROM examples"))
    # A condition that takes 20 ms an example cannot be counted within 5 ms: the planner's estimate, marked.
    slow = replace(words, sql=f"{words.sql} AND pg_sleep(0.02) IS NOT NULL")
    estimate = await examples_repository.count(pool, slow, budget_ms=5)
    assert not estimate.exact and estimate.value >= 1
