"""Record 100,000 generated examples through the API in batches of 1,000, beside a raw COPY of the same rows.

Usage: .venv/bin/python bench/ingest.py [--count N] [--concurrency C]
Uses PostgreSQL at TUNEYARD_BENCH_DATABASE_URL (default 127.0.0.1:5432) in a scratch database.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import datetime

import httpx
import orjson
import psutil

from bench.common import connect, create_database, drop_database, start_server
from bench.data import examples

RECORD = "mutation($e: [ExampleInput!]!) { recordExamples(examples: $e) { inserted updated unchanged } }"
BATCH = 1000


async def through_api(url: str, token: str, batches: list[bytes], concurrency: int) -> tuple[float, dict[str, int]]:
    """Seconds to send every batch, and the summed inserted/updated/unchanged counts."""
    queue = list(reversed(batches))
    totals = {"inserted": 0, "updated": 0, "unchanged": 0}

    async def client() -> None:
        async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=120) as http:
            while queue:
                body = queue.pop()
                response = await http.post("/graphql", content=body, headers={"Content-Type": "application/json"})
                result = response.json()
                assert "errors" not in result, result["errors"]
                for key, value in result["data"]["recordExamples"].items():
                    totals[key] += value

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return time.perf_counter() - started, totals


async def raw_copy(database_url: str, rows: list[dict[str, object]]) -> float:
    """The floor: COPY the same rows into empty examples and example_tags tables (same indexes and constraints)."""
    conn = await connect(database_url)
    try:
        await conn.execute("TRUNCATE examples CASCADE")
        records = [
            (
                r["executionId"], r["userRequest"], r["intent"], r["platform"],
                orjson.dumps(r["businessState"]).decode(), orjson.dumps(r["executionPlan"]).decode(),
                orjson.dumps(r["executionResult"]).decode(),
                r["qualityScore"], r["success"], datetime.fromisoformat(r["createdAt"]),  # type: ignore[arg-type]
            )
            for r in rows
        ]  # fmt: skip
        columns = [
            "execution_id", "user_request", "intent", "platform", "business_state", "execution_plan",
            "execution_result", "quality_score", "success", "created_at",
        ]  # fmt: skip
        started = time.perf_counter()
        for i in range(0, len(records), BATCH):
            await conn.copy_records_to_table("examples", records=records[i : i + BATCH], columns=columns)
        # Ids are known once the rows are in: the tags follow, as the API writes them.
        ids = dict(await conn.fetch("SELECT execution_id, id FROM examples"))
        tagged = [(ids[r["executionId"]], sorted(r["tags"])) for r in rows if r["tags"]]  # type: ignore[arg-type]
        await conn.copy_records_to_table("example_tags", records=tagged, columns=["example_id", "tags"])
        return time.perf_counter() - started
    finally:
        await conn.close()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args()

    rows = list(examples(args.count))
    batches = [
        orjson.dumps({"query": RECORD, "variables": {"e": rows[i : i + BATCH]}}) for i in range(0, len(rows), BATCH)
    ]
    database_url = await create_database()
    server, token = start_server(database_url)
    try:
        assert server.process is not None
        server_process = psutil.Process(server.process.pid)
        cpu_before = sum(server_process.cpu_times()[:2])
        api, totals = await through_api(server.url, token, batches, args.concurrency)
        server_cpu = sum(server_process.cpu_times()[:2]) - cpu_before
        assert totals["inserted"] == args.count, totals
        again, totals = await through_api(server.url, token, batches[:10], args.concurrency)
        assert totals["unchanged"] == 10 * BATCH, totals
        copy = await raw_copy(database_url, rows)
    finally:
        server.stop()
        await drop_database(database_url)
    api_rate, copy_rate = args.count / api, args.count / copy
    print(f"examples: {args.count:,} in batches of {BATCH}, {args.concurrency} concurrent clients")
    print(f"recordExamples over HTTP GraphQL: {api:7.2f} s  {api_rate:10,.0f} examples/s")
    print(f"server CPU per batch of {BATCH}: {server_cpu / len(batches) * 1000:.1f} ms")
    print(f"re-send of 10 unchanged batches:  {again:7.2f} s  {10 * BATCH / again:10,.0f} examples/s")
    print(f"raw COPY into examples (floor):   {copy:7.2f} s  {copy_rate:10,.0f} examples/s")
    print(f"ratio API / COPY: {api_rate / copy_rate:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
