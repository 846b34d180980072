"""SQL for stats: the aggregates, tag counts and total over a compiled filter, each in a transaction of its own with
the planner settings below."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import asyncpg

from tuneyard.core.db import Condition, Pool, fetch_planned
from tuneyard.curation.models import Aggregate, Summary
from tuneyard.examples import service as examples_service
from tuneyard.examples.models import QUALITY_BINS

# Planner settings for the statements of stats, for their transaction only. The planner cannot tell how few groups
# the aggregates make (it multiplies the distinct values of four keys into hundreds of thousands), so it would sort
# every matching example by those keys, spilling to disk, instead of hashing them into a few hundred groups. It would
# also hash the whole of example_tags to join the examples' tags (and to test tag conditions), where merge joins
# along both primary keys read them in order, and examples a filter finds in another order take an index probe each.
# Together: 15 to 40% less CPU time for eight filters measured at a million examples, none slower. The statements
# of one stats request run side by side (aggregates, tag counts, total), so parallel workers would only compete with
# them, each worker repeating the merge joins' scans of example_tags. Each statement is planned for the values at hand,
# not once for all of them (as a prepared statement is from its sixth run on): the same filter can match ten examples
# or a million. Nor does compiling their expressions pay (see repository._prepare_bulk_write).
_STATS_SETTINGS = (
    "SET LOCAL jit = off; SET LOCAL enable_sort = off; SET LOCAL enable_hashjoin = off; "
    "SET LOCAL max_parallel_workers_per_gather = 0; SET LOCAL plan_cache_mode = force_custom_plan"
)


async def _fetch_stats(pool: Pool, sql: str, *args: Any) -> list[asyncpg.Record]:
    async with pool.acquire() as conn, conn.transaction(readonly=True):
        await conn.execute(_STATS_SETTINGS)
        return await conn.fetch(sql, *args)


def summarized(where: Condition, buckets: int) -> bool:
    """Whether the summary answers stats of this filter with this many histogram buckets (bins add up to them)."""
    return where.summary is not None and QUALITY_BINS % buckets == 0


async def aggregates(pool: Pool, where: Condition, buckets: int) -> list[Aggregate]:
    """Count, averages and dates overall, and counts by intent, platform, model and quality bucket: from the summary
    where it answers the filter, else from one scan of the matching examples."""
    if summarized(where, buckets):
        return await _summary_aggregates(pool, where, buckets)
    return await _scanned_aggregates(pool, where, buckets)


# The rollup of groups (intent, platform, model, bucket) into the five groupings, over a relation `cube` of groups with
# n, score_sum, scored, successes, outcomes, earliest and latest.
_ROLLUP = """
    SELECT grouping(intent, platform, model_id, bucket) AS grouping, intent, platform, model_id, bucket,
           coalesce(sum(n), 0)::bigint AS count, (sum(score_sum) / nullif(sum(scored), 0))::float8 AS avg_quality_score,
           sum(successes)::float8 / nullif(sum(outcomes), 0) AS success_rate,
           min(earliest) AS earliest, max(latest) AS latest
    FROM cube GROUP BY GROUPING SETS ((), (intent), (platform), (model_id), (bucket))
"""


async def _scanned_aggregates(pool: Pool, where: Condition, buckets: int) -> list[Aggregate]:
    """The inner query groups the matching examples by (intent, platform, model, bucket) in one pass; the rollup turns
    those groups (a few hundred, times the models in use) into the five groupings."""
    p = f"${len(where.params) + 1}"
    sql = f"""
    WITH cube AS (
        SELECT e.intent, e.platform, e.model_id, width_bucket(e.quality_score, {p}::float8[]) + 1 AS bucket,
               count(*) AS n, sum(e.quality_score) AS score_sum, count(e.quality_score) AS scored,
               count(*) FILTER (WHERE e.success) AS successes, count(e.success) AS outcomes,
               min(e.created_at) AS earliest, max(e.created_at) AS latest
        FROM examples e WHERE {where.sql}
        GROUP BY 1, 2, 3, 4
    ) {_ROLLUP}
    """
    return [_aggregate(r) for r in await _fetch_stats(pool, sql, *where.params, bucket_bounds(buckets))]


def bucket_bounds(buckets: int) -> list[float]:
    """The lower bounds of buckets 2..n: width_bucket over them compares (a score of exactly 0.2 is in bucket 2 of 5),
    as the summary's quality bins do, so both ways count the same; 1.0 falls in the last bucket."""
    return [i / buckets for i in range(1, buckets)]


async def _summary_aggregates(pool: Pool, where: Condition, buckets: int) -> list[Aggregate]:
    """The same figures from the summary. Its rows of one key are summed first (folded rows and changes), so a day
    counts only where examples remain. The summary knows days, not times: the earliest and latest times are read from
    the examples of the first and last day that holds a match (an index range of one day)."""
    summary = where.summary
    assert summary is not None
    await examples_service.fold_summary(pool)
    rows = examples_service.summary_union(summary, _KEYED_SUMMARY, _KEYED_EXAMPLES)
    params = list(rows.params)
    b = f"${len(params) + 1}"
    sql = f"""
    WITH keyed AS (
        SELECT day, intent, platform, model_id, success, quality_bin, sum(n) AS n, sum(score_sum) AS score_sum
        FROM ({rows.sql}) k GROUP BY 1, 2, 3, 4, 5, 6 HAVING sum(n) > 0
    ), cube AS (
        SELECT intent, platform, model_id, quality_bin / ({QUALITY_BINS} / {b}::int) + 1 AS bucket,
               sum(n) AS n, sum(score_sum) AS score_sum, sum(n) FILTER (WHERE quality_bin IS NOT NULL) AS scored,
               coalesce(sum(n) FILTER (WHERE success), 0) AS successes,
               sum(n) FILTER (WHERE success IS NOT NULL) AS outcomes,
               min(day) AS earliest, max(day) AS latest
        FROM keyed GROUP BY 1, 2, 3, 4
    ) {_ROLLUP}
    """
    found = [_aggregate(r) for r in await _fetch_stats(pool, sql, *params, buckets)]
    return [await _with_times(pool, where, a) if a.grouping == "all" else a for a in found]


# A summary part's rows, and examples in the same shape (a row each): for the aggregates, and for the tag counts.
_KEYED_SUMMARY = "SELECT s.day, s.intent, s.platform, s.model_id, s.success, s.quality_bin, s.n, s.score_sum FROM {} s"
_KEYED_EXAMPLES = (
    "SELECT (e.created_at AT TIME ZONE 'UTC')::date, e.intent, e.platform, e.model_id, e.success, "
    "example_quality_bin(e.quality_score), 1, coalesce(e.quality_score::numeric, 0) FROM examples e"
)
_TAGGED_SUMMARY = "SELECT s.tags, s.n FROM {} s"
_TAGGED_EXAMPLES = "SELECT t.tags, 1 FROM examples e JOIN example_tags t ON t.example_id = e.id"


async def _with_times(pool: Pool, where: Condition, overall: Aggregate) -> Aggregate:
    """The overall aggregate with the earliest and latest matching times: the day that holds each is found among the
    day rows of the month the aggregate names (month rows know only the month), the time among that day's examples."""
    first, last = overall.summary.earliest, overall.summary.latest
    if first is None or last is None:
        return overall
    times = await asyncio.gather(_time_in_month(pool, where, first, "min"), _time_in_month(pool, where, last, "max"))
    return replace(overall, summary=replace(overall.summary, earliest=times[0], latest=times[1]))


async def _time_in_month(pool: Pool, where: Condition, day: date, extreme: str) -> datetime | None:
    assert where.summary is not None
    by_day = tuple(replace(p, relation=examples_service.DAY_ROWS) if p.relation != "examples" else p
                   for p in where.summary)  # fmt: skip
    rows = examples_service.summary_union(by_day, "SELECT s.day, s.n FROM {} s", _DAY_OF_EXAMPLES)
    month = day.replace(day=1)
    n = len(rows.params)
    found = await fetch_planned(
        pool, rows,
        f"SELECT day FROM ({rows.sql}) k(day, n) WHERE day >= ${n + 1} AND day < ${n + 2} "
        f"GROUP BY day HAVING sum(n) > 0 ORDER BY day {'ASC' if extreme == 'min' else 'DESC'} LIMIT 1",
        *rows.params, month, (month + timedelta(days=32)).replace(day=1),
    )  # fmt: skip
    return await _time_within(pool, where, found[0][0], extreme) if found else None


_DAY_OF_EXAMPLES = "SELECT (e.created_at AT TIME ZONE 'UTC')::date, 1 FROM examples e"


async def _time_within(pool: Pool, where: Condition, day: date, extreme: str) -> datetime | None:
    n = len(where.params)
    start = datetime.combine(day, time(0), UTC)
    rows = await fetch_planned(
        pool, where,
        f"SELECT {extreme}(e.created_at) FROM examples e "
        f"WHERE {where.sql} AND e.created_at >= ${n + 1} AND e.created_at < ${n + 2}",
        *where.params, start, start + timedelta(days=1),
    )  # fmt: skip
    found: datetime | None = rows[0][0]
    return found


# grouping(intent, platform, model_id, bucket) has a bit set for each column rolled up: which grouping set a row is.
_GROUPINGS = {0b1111: ("all", None), 0b0111: ("intent", "intent"), 0b1011: ("platform", "platform"),
              0b1101: ("model", "model_id"), 0b1110: ("bucket", "bucket")}  # fmt: skip


def _aggregate(row: asyncpg.Record) -> Aggregate:
    grouping, column = _GROUPINGS[row["grouping"]]
    summary = Summary(row["count"], row["avg_quality_score"], row["success_rate"], row["earliest"], row["latest"])
    return Aggregate(grouping, None if column is None else row[column], summary)


async def count_not_archived(pool: Pool) -> int:
    return (await examples_service.count(pool, examples_service.compile_filter(None))).value


async def quality_histogram(pool: Pool, where: Condition, buckets: int) -> dict[int, int]:
    """{bucket number 1..buckets: count}; a score of exactly 1 falls in the last bucket, no score in none."""
    return {a.key: a.summary.count for a in await aggregates(pool, where, buckets) if a.grouping == "bucket"}


async def counts_by_tag(pool: Pool, where: Condition) -> list[tuple[str, int]]:
    """(tag, count); reads only the examples that have tags (rows of example_tags).

    A statement of its own, run beside the aggregates: grouping those by each example's tag set as well cost more
    than this second pass (hashing and comparing arrays for every tagged example). From the summary where it answers
    the filter (its rows carry the tag set)."""
    if where.summary is not None:
        rows = examples_service.summary_union(where.summary, _TAGGED_SUMMARY, _TAGGED_EXAMPLES)
        sql = f"""
        SELECT tag, sum(k.n)::bigint AS count FROM ({rows.sql}) AS k(tags, n) CROSS JOIN LATERAL unnest(k.tags) AS tag
        GROUP BY tag HAVING sum(k.n) > 0
        """
        return [(r["tag"], r["count"]) for r in await _fetch_stats(pool, sql, *rows.params)]
    sql = f"""
    SELECT tag, count(*) AS count
    FROM examples e JOIN example_tags tagged ON tagged.example_id = e.id CROSS JOIN LATERAL unnest(tagged.tags) AS tag
    WHERE {where.sql} GROUP BY tag
    """
    return [(r["tag"], r["count"]) for r in await _fetch_stats(pool, sql, *where.params)]
