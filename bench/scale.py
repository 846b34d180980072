"""Scale: the interactive calls at 10,000,000 examples against issue 17's target (each within 500 ms).

Usage: .venv/bin/python -m bench.scale [--rows N] [--rounds N]
Builds (once) the database `tuneyard_bench_<N>` with bench.curation's generator (10M: about 10 minutes and 8 GB;
100M wants a larger machine), serves it with one worker, and times each call through the API: the median and the
worst of --rounds runs after a warm-up run. The "before" column times, straight through asyncpg on the same database,
what the calls cost the way they were made before the example summary (migration 0017): counts and stats scanned from
the examples, and the word search under the generic plan a prepared statement settles on after five runs.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import asyncpg
import orjson

from bench.common import RawHTTP, start_server
from bench.curation import FILTER, PAGE, STATS, ensure_data
from tuneyard.core.db import create_pool
from tuneyard.curation import stats_repository as stats_sql
from tuneyard.examples.service import compile_filter

TARGET_MS = 500.0
RARE_WORDS = "campaign 7 topic 4001"  # one example in 97 x 5003: about twenty at ten million
COMMON_WORDS = "campaign 5"  # one example in 97
COUNT = "query($f: ExampleFilter) { examples(filter: $f, first: 1) { totalCount totalCountExact } }"
TAG = """mutation($w: ExampleFilter!) { tagExamples(where: $w, add: ["bench_batch"]) {
  id affectedCount job { id status } } }"""
UNDO = "mutation($id: ID!) { undoTagOperation(id: $id) { id affectedCount undoJob { id } } }"
JOB = "query($id: ID!) { job(id: $id) { status progress error } }"

Call = Callable[[], Awaitable[Any]]


class Bench:
    def __init__(self, http: RawHTTP, pool: asyncpg.Pool, rounds: int) -> None:
        self.http, self.pool, self.rounds = http, pool, rounds
        self.rows: list[tuple[str, str, float | None, list[float]]] = []

    async def gql(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        status, raw = await self.http.post("/graphql", {"query": query, "variables": variables})
        body = orjson.loads(raw)
        assert status == 200 and "errors" not in body, body
        return body["data"]  # type: ignore[no-any-return]

    async def times(self, call: Call, rounds: int | None = None, warm_up: bool = True) -> list[float]:
        if warm_up:
            await call()  # caches, prepared statements
        samples = []
        for _ in range(rounds or self.rounds):
            started = time.perf_counter()
            await call()
            samples.append((time.perf_counter() - started) * 1000)
        return samples

    async def measure(self, label: str, note: str, call: Call, before: Call | None = None) -> None:
        after = await self.times(call)
        # The old ways take seconds each: two runs (after this run's own, which warmed the caches up).
        before_ms = statistics.median(await self.times(before, 2, warm_up=False)) if before is not None else None
        self.rows.append((label, note, before_ms, after))
        print(f"  {label}: {statistics.median(after):.1f} ms ({note})", flush=True)

    def table(self, rows: int) -> None:
        print(f"\n{rows:,} examples, {self.rounds} rounds (ms; before: the same work as before migration 0017)\n")
        print("| measure | before | after, median | after, worst | target | met |")
        print("|---|---|---|---|---|---|")
        for label, note, before, after in self.rows:
            worst = max(after)
            shown = "-" if before is None else f"{before:,.0f}"
            print(
                f"| {label} ({note}) | {shown} | {statistics.median(after):,.1f} | {worst:,.1f} | ≤ {TARGET_MS:.0f} "
                f"| {'yes' if worst <= TARGET_MS else 'NO'} |"
            )


async def scanned_count(pool: asyncpg.Pool, spec: dict[str, Any] | None) -> None:
    where = compile_filter(spec)
    await pool.fetchval(f"SELECT count(*) FROM examples e WHERE {where.sql}", *where.params)


async def scanned_stats(pool: asyncpg.Pool, spec: dict[str, Any] | None) -> None:
    where = replace(compile_filter(spec), summary=None)
    await asyncio.gather(
        stats_sql.aggregates(pool, where, 10),
        stats_sql.counts_by_tag(pool, where),
        pool.fetchval("SELECT count(*) FROM examples WHERE NOT archived"),
    )


async def generic_plan_page(pool: asyncpg.Pool, words: str) -> None:
    where = compile_filter({"text": words})
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        await conn.fetch(
            f"SELECT e.id FROM examples e WHERE {where.sql} ORDER BY e.created_at DESC, e.id DESC LIMIT 51",
            *where.params,
        )


async def tag_and_undo(bench: Bench, label: str, where: dict[str, Any]) -> None:
    """Tag, wait for the job if it became one, undo (and wait), printing the latency of each call and job."""
    started = time.perf_counter()
    op = (await bench.gql(TAG, {"w": where}))["tagExamples"]
    called = (time.perf_counter() - started) * 1000
    await wait_for(bench, op.get("job"))
    tagged = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    undone = (await bench.gql(UNDO, {"id": op["id"]}))["undoTagOperation"]
    undo_called = (time.perf_counter() - started) * 1000
    await wait_for(bench, undone.get("undoJob"))
    undo_done = (time.perf_counter() - started) * 1000
    if op.get("job"):
        tag_note, undo_note = f"a job, done in {tagged / 1000:.1f} s", f"a job, done in {undo_done / 1000:.1f} s"
    else:
        tag_note, undo_note = f"inline, {op['affectedCount']:,} examples", "inline"
    bench.rows.append((f"{label}: tagExamples", tag_note, None, [called]))
    bench.rows.append((f"{label}: its undo", undo_note, None, [undo_called]))
    print(
        f"  {label}: tagExamples answered in {called:.0f} ms, done in {tagged:.0f} ms; "
        f"undo answered in {undo_called:.0f} ms, done in {undo_done:.0f} ms",
        flush=True,
    )


async def wait_for(bench: Bench, job: dict[str, Any] | None) -> None:
    """Until the job (if any) has succeeded."""
    while job is not None:
        found = (await bench.gql(JOB, {"id": job["id"]}))["job"]
        if found["status"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
            assert found["status"] == "SUCCEEDED", found
            return
        await asyncio.sleep(0.1)


async def run(rows: int, rounds: int) -> None:
    url = await ensure_data(rows)
    server, token = start_server(url)
    pool = await create_pool(url, max_size=4)
    bench = Bench(RawHTTP(server.url, token), pool, rounds)
    page = lambda spec, after=None: bench.gql(PAGE, {"f": spec, "after": after})  # noqa: E731
    try:
        await bench.measure("first page", "3-condition filter", lambda: page(FILTER))
        cursor = None
        for _ in range(20):
            cursor = (await page(FILTER, cursor))["examples"]["pageInfo"]["endCursor"]
        await bench.measure("deep page", "after 1,000 rows", lambda: page(FILTER, cursor))
        await bench.measure("rare intent page", "intent translate", lambda: page({"intent": {"eq": "translate"}}))
        for words, note in ((RARE_WORDS, "rare words"), (COMMON_WORDS, "1% of examples")):
            await bench.measure(
                "text search page", note, lambda w=words: page({"text": w}), lambda w=words: generic_plan_page(pool, w)
            )
        counted = (await bench.gql(COUNT, {"f": FILTER}))["examples"]
        await bench.measure(
            "totalCount", f"filtered, {counted['totalCount']:,} exact", lambda: bench.gql(COUNT, {"f": FILTER}),
            lambda: scanned_count(pool, FILTER),
        )  # fmt: skip
        searched = (await bench.gql(COUNT, {"f": {"text": COMMON_WORDS}}))["examples"]
        await bench.measure(
            "totalCount", f"1% word search, {searched['totalCount']:,}{'' if searched['totalCountExact'] else ' estimated'}",
            lambda: bench.gql(COUNT, {"f": {"text": COMMON_WORDS}}),
            lambda: scanned_count(pool, {"text": COMMON_WORDS}),
        )  # fmt: skip
        for spec, note in ((FILTER, "filtered"), (None, "all")):
            await bench.measure(
                "stats", note, lambda s=spec: bench.gql(STATS, {"f": s}), lambda s=spec: scanned_stats(pool, s)
            )
        times = await pool.fetch("SELECT created_at FROM examples ORDER BY id OFFSET $1 LIMIT 1", rows // 2)
        start = times[0]["created_at"]
        for label, size in (("10,000 by date", 10_000), ("1% by date", rows // 100)):
            end = await pool.fetchval(
                "SELECT created_at FROM examples WHERE created_at >= $1 ORDER BY created_at OFFSET $2 LIMIT 1",
                start, size,
            )  # fmt: skip
            await tag_and_undo(bench, label, {"createdAt": {"gte": start.isoformat(), "lt": end.isoformat()}})
        bench.table(rows)
    finally:
        await bench.http.close()
        await pool.close()
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    asyncio.run(run(args.rows, args.rounds))


if __name__ == "__main__":
    main()
