"""Curation on 1,000,000 generated examples: page latency, deep keyset page, stats, bulk tagging and undo.

Usage: .venv/bin/python -m bench.curation [--rows N] [--requests N]
Builds (once) a database `tuneyard_bench_<N>` on TUNEYARD_BENCH_DATABASE_URL's server, generated in SQL:
a year of dates in recording order, quality skewed high, a dozen intents, 3 platforms, tags on about a quarter.
Each API figure is printed beside the raw asyncpg time of the same SQL.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import orjson

from bench.common import ADMIN_URL, RawHTTP, percentile, start_server
from bench.data import INTENT_WEIGHTS, INTENTS, PLATFORMS
from tests.support.databases import with_database
from tuneyard.core.db import create_pool
from tuneyard.core.migrations import migrate
from tuneyard.curation import stats_repository as curation_sql
from tuneyard.examples.service import compile_filter

FILTER = {"intent": {"eq": "publish"}, "qualityScore": {"gte": 0.7}, "tags": {"containsNone": ["development", "test"]}}
PAGE = """query($f: ExampleFilter, $after: String) { examples(filter: $f, first: 50, after: $after) {
  pageInfo { hasNextPage endCursor }
  nodes { id executionId userRequest intent platform qualityScore success tags createdAt updatedAt } } }"""
STATS = """query($f: ExampleFilter) { stats(filter: $f) { count totalCount avgQualityScore successRate earliest latest
  qualityHistogram(buckets: 10) { lower upper count } byTag { key count } byIntent { key count } byPlatform { key count } } }"""
TAG = 'mutation($w: ExampleFilter!) { tagExamples(where: $w, add: ["bench_batch"]) { id affectedCount } }'
UNDO = "mutation($id: ID!) { undoTagOperation(id: $id) { id affectedCount } }"

GENERATE = """
INSERT INTO examples (execution_id, user_request, intent, platform, business_state, execution_plan,
                      execution_result, quality_score, success, created_at)
SELECT 'gen-' || g,
       intent || ' for ' || platform || ': campaign ' || (g % 97) || ', topic ' || (g % 5003),
       intent, platform,
       jsonb_build_object('followers', (g::bigint * 7919) % 50000, 'plan', CASE WHEN g % 3 = 0 THEN 'pro' ELSE 'free' END),
       '{"steps": [{"tool": "draft"}, {"tool": "review"}, {"tool": "publish"}]}'::jsonb,
       jsonb_build_object('status', 'ok', 'id', 'r' || g),
       round((1 - power(random(), 2.5))::numeric, 3)::float8,
       random() > 0.15,
       -- Recorded as executed: time grows with the row, a little jitter.
       timestamptz '2025-01-01' + (g::float8 / $7) * interval '365 days' + random() * interval '2 hours'
FROM (SELECT g,
             (SELECT i FROM unnest($1::text[], $2::int[]) AS w(i, c) WHERE c > (g * 2654435761::bigint) % $3 ORDER BY c LIMIT 1) AS intent,
             ($4::text[])[1 + (g % 10) / 5 + (g % 10) / 8] AS platform
      FROM generate_series($5::int, $6::int) AS g) AS s
"""
TAG_SOME = """
INSERT INTO example_tags (example_id, tags)
SELECT id, ARRAY[(ARRAY['development', 'test', 'prod', 'good', 'bad', 'reviewed'])[1 + id % 6]]
FROM examples WHERE id BETWEEN $1 AND $2 AND random() < 0.25
"""


async def ensure_data(rows: int) -> str:
    name = f"tuneyard_bench_{rows}"
    admin = await asyncpg.connect(ADMIN_URL)
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = with_database(ADMIN_URL, name)  # also for a bundled server's URL, whose socket folder is in its query
    conn = await asyncpg.connect(url)
    try:
        await migrate(conn)
        have = await conn.fetchval("SELECT count(*) FROM examples")
        if have < rows:
            cumulative, total = [], 0
            for weight in INTENT_WEIGHTS:
                total += weight
                cumulative.append(total)
            started = time.perf_counter()
            for start in range(have + 1, rows + 1, 100_000):
                end = min(start + 99_999, rows)
                await conn.execute(GENERATE, INTENTS, cumulative, total, PLATFORMS, start, end, rows)
                await conn.execute(TAG_SOME, start, end)
                print(f"  generated {end:,} examples", flush=True)
            print(f"generated {rows - have:,} examples in {time.perf_counter() - started:.0f} s")
        # Leave no trace of an earlier run, and measure tables at rest (as autovacuum leaves them).
        await conn.execute("DELETE FROM tag_operation_batches; DELETE FROM tag_operations; "
                           "DELETE FROM curation_runs; DELETE FROM example_tags WHERE tags = '{bench_batch}'; "
                           "UPDATE example_tags SET tags = array_remove(tags, 'bench_batch') WHERE 'bench_batch' = ANY(tags)")  # fmt: skip
        await conn.execute("VACUUM ANALYZE examples")
        await conn.execute("VACUUM ANALYZE example_tags")
    finally:
        await conn.close()
    return url


async def timed(call: Callable[[], Awaitable[Any]], times: int) -> list[float]:
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def line(label: str, api: list[float], raw: list[float] | None = None) -> None:
    text = f"{label:<44} p50 {statistics.median(api):8.2f} ms  p99 {percentile(api, 99):8.2f} ms"
    if raw:
        text += f"   raw SQL p50 {statistics.median(raw):8.2f} ms  ratio {statistics.median(api) / statistics.median(raw):5.2f}"
    print(text, flush=True)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    url = await ensure_data(args.rows)
    # The inline path is what this bench measures: tagging 100,000 examples would otherwise become a job.
    server, token = start_server(url, TUNEYARD_BULK_JOB_THRESHOLD="1000000")
    pool = await create_pool(url, max_size=4)
    http = RawHTTP(server.url, token)

    async def gql(query: str, variables: dict[str, Any]) -> dict[str, Any]:
        status, raw = await http.post("/graphql", {"query": query, "variables": variables})
        body = orjson.loads(raw)
        assert status == 200 and "errors" not in body, body
        return body["data"]  # type: ignore[no-any-return]

    try:
        where = compile_filter(FILTER)
        params = where.params
        columns = "e.id, e.execution_id, e.user_request, e.intent, e.platform, e.quality_score, e.success, e.tags, e.created_at, e.updated_at"
        page_sql = (
            f"SELECT {columns} FROM example_rows e WHERE {where.sql} ORDER BY e.created_at DESC, e.id DESC LIMIT 51"
        )

        first = await gql(PAGE, {"f": FILTER})
        raw_first = await pool.fetch(page_sql, *params)
        assert [n["id"] for n in first["examples"]["nodes"]] == [str(r["id"]) for r in raw_first[:50]]
        await timed(lambda: gql(PAGE, {"f": FILTER}), 300)  # warm-up: caches, prepared statements, plans
        api = await timed(lambda: gql(PAGE, {"f": FILTER}), args.requests)
        raw = await timed(lambda: pool.fetch(page_sql, *params), args.requests)
        line("first page, 50 rows, 3-condition filter", api, raw)

        after = None
        for _ in range(999):
            after = (await gql(PAGE, {"f": FILTER, "after": after}))["examples"]["pageInfo"]["endCursor"]
        deep = await timed(lambda: gql(PAGE, {"f": FILTER, "after": after}), args.requests)
        line("1,000th page (keyset)", deep)
        print(f"  1,000th page / first page: {statistics.median(deep) / statistics.median(api):.2f}")

        stats_filter = {"qualityScore": {"gte": 0.5}, "tags": {"containsNone": ["development"]}}
        stats_where = compile_filter(stats_filter)

        async def raw_stats() -> None:
            # The statements the server runs for this selection, straight through asyncpg, concurrently as it does.
            await asyncio.gather(
                curation_sql.aggregates(pool, stats_where, 10),
                curation_sql.counts_by_tag(pool, stats_where),
                curation_sql.count_not_archived(pool),
            )

        got = (await gql(STATS, {"f": stats_filter}))["stats"]
        stats_api = await timed(lambda: gql(STATS, {"f": stats_filter}), 7)
        stats_raw = await timed(raw_stats, 7)
        line(f"stats over {got['count']:,} of {got['totalCount']:,}", stats_api, stats_raw)

        target = await pool.fetchval("SELECT created_at FROM examples ORDER BY created_at OFFSET 99999 LIMIT 1")
        low = await pool.fetchval(
            "SELECT quality_score FROM examples ORDER BY quality_score NULLS LAST OFFSET 99999 LIMIT 1"
        )
        for label, tag_where in (
            ("a date range (the oldest 100,000)", {"createdAt": {"lte": target.isoformat()}}),
            ("a quality range (scattered rows)", {"qualityScore": {"lte": low}}),
        ):
            started = time.perf_counter()
            op = (await gql(TAG, {"w": tag_where}))["tagExamples"]
            tag_ms = (time.perf_counter() - started) * 1000
            started = time.perf_counter()
            await gql(UNDO, {"id": op["id"]})
            undo_ms = (time.perf_counter() - started) * 1000
            print(
                f"tagExamples on {op['affectedCount']:,} examples, {label}: {tag_ms:6.0f} ms;  undo: {undo_ms:6.0f} ms"
            )
    finally:
        await http.close()
        await pool.close()
        server.stop()


if __name__ == "__main__":
    asyncio.run(main())
