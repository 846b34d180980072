"""Export 1,000,000 frozen examples as OPENAI_CHAT through an EXPORT job, beside a raw COPY of the same rows.

Usage: .venv/bin/python bench/export.py [--count N] [--format OPENAI_CHAT]
Uses PostgreSQL at TUNEYARD_BENCH_DATABASE_URL and Redis at TUNEYARD_BENCH_REDIS_URL (defaults: 127.0.0.1)
in a scratch database. The examples are bulk-loaded with COPY, frozen with createDataset's service, then
exported by a `tuneyard worker` process whose peak memory (VmHWM) is read from /proc.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from bench.common import REDIS_URL, connect, create_database, drop_database
from bench.data import examples
from tuneyard.core import queue as broker
from tuneyard.core.config import Settings
from tuneyard.core.db import create_pool
from tuneyard.datasets import service as datasets
from tuneyard.datasets.exports.service import start_export
from tuneyard.datasets.models import ExportFormat, NewDataset

CHUNK = 20_000
COLUMNS = [
    "execution_id", "user_request", "intent", "platform", "business_state", "execution_plan",
    "execution_result", "quality_score", "success", "created_at",
]  # fmt: skip


async def bulk_load(database_url: str, count: int) -> float:
    """COPY `count` generated examples into examples (their tags into example_tags), a chunk at a time
    (constant memory); seconds."""
    conn = await connect(database_url)
    started = time.perf_counter()
    try:
        await conn.execute("CREATE TEMPORARY TABLE bench_tags (execution_id text, tags text[])")
        chunk: list[tuple[Any, ...]] = []
        tagged: list[tuple[str, list[str]]] = []
        for r in examples(count, seed=9, prefix="exp"):
            chunk.append((
                r["executionId"], r["userRequest"], r["intent"], r["platform"],
                orjson.dumps(r["businessState"]).decode(), orjson.dumps(r["executionPlan"]).decode(),
                orjson.dumps(r["executionResult"]).decode(), r["qualityScore"], r["success"],
                datetime.fromisoformat(r["createdAt"]),
            ))  # fmt: skip
            if r["tags"]:
                tagged.append((r["executionId"], sorted(r["tags"])))
            if len(chunk) == CHUNK:
                await conn.copy_records_to_table("examples", records=chunk, columns=COLUMNS)
                await conn.copy_records_to_table("bench_tags", records=tagged)
                chunk, tagged = [], []
        if chunk:
            await conn.copy_records_to_table("examples", records=chunk, columns=COLUMNS)
            await conn.copy_records_to_table("bench_tags", records=tagged)
        await conn.execute(
            "INSERT INTO example_tags (example_id, tags) "
            "SELECT e.id, t.tags FROM bench_tags t JOIN examples e USING (execution_id)"
        )
        await conn.execute("VACUUM ANALYZE examples")
        await conn.execute("VACUUM ANALYZE example_tags")
    finally:
        await conn.close()
    return time.perf_counter() - started


async def raw_copy(database_url: str, dataset_id: int, target: Path) -> tuple[float, int]:
    """The floor: COPY (SELECT row_to_json(...)) of the same frozen rows, in the same order, to a file."""
    conn = await connect(database_url)
    try:
        started = time.perf_counter()
        await conn.copy_from_query(
            "SELECT row_to_json(d) FROM (SELECT * FROM dataset_examples WHERE dataset_id = $1 ORDER BY example_id) d",
            dataset_id,
            output=target,
        )
        seconds = time.perf_counter() - started
        return seconds, await asyncio.to_thread(os.path.getsize, target)
    finally:
        await conn.close()


def children_peak_kib(pid: int) -> int:
    """The summed peak memory of the process's children alive now (the export's token-counting processes)."""
    total = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
        except OSError:  # gone meanwhile
            continue
        if int(fields.get("PPid", "0")) == pid and "VmHWM" in fields:
            total += int(fields["VmHWM"].split()[0])
    return total


def peak_kib(pid: int, field: str = "VmHWM") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for {pid}")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--format", default="OPENAI_CHAT", choices=[f.value for f in ExportFormat])
    args = parser.parse_args()
    fmt = ExportFormat(args.format)

    database_url = await create_database()
    home = Path(tempfile.mkdtemp(prefix="tuneyard-export-bench-"))
    namespace = f"tuneyard-bench-{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNEYARD_")}
    env.update(TUNEYARD_DATABASE_URL=database_url, TUNEYARD_REDIS_URL=REDIS_URL, TUNEYARD_HOME=str(home),
               TUNEYARD_QUEUE_NAMESPACE=namespace)  # fmt: skip
    worker: asyncio.subprocess.Process | None = None
    pool = await create_pool(database_url, max_size=2)
    try:
        load = await bulk_load(database_url, args.count)
        started = time.perf_counter()
        version = await datasets.create(
            pool, NewDataset(name="bench", description=None, filter={}, validation_fraction=0.05, seed=1)
        )
        freeze = time.perf_counter() - started
        copy_seconds, copy_bytes = await raw_copy(database_url, version.id, home / "copy.jsonl")
        (home / "copy.jsonl").unlink()

        worker = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tuneyard.cli", "worker", "--threads", "1", env=env
        )
        await asyncio.sleep(3)  # let it boot before its idle memory is read
        idle_kib = peak_kib(worker.pid, "VmRSS")
        broker.configure(Settings(queue_namespace=namespace), REDIS_URL)
        job = await start_export(pool, str(version.id), fmt, "bench")
        children_kib = 0
        while True:
            children_kib = max(children_kib, await asyncio.to_thread(children_peak_kib, worker.pid))
            row = await pool.fetchrow(
                "SELECT status, started_at, finished_at, result, error FROM jobs WHERE id = $1", job.id
            )
            assert row is not None
            if row["status"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
                break
            await asyncio.sleep(0.2)
        assert row["status"] == "SUCCEEDED", row["error"]
        seconds = (row["finished_at"] - row["started_at"]).total_seconds()
        peak = peak_kib(worker.pid)
        result = row["result"]
    finally:
        if worker is not None:
            worker.terminate()
            await asyncio.wait_for(worker.wait(), 30)
        broker.close()
        await pool.close()
        await drop_database(database_url)
        shutil.rmtree(home, ignore_errors=True)

    n = version.example_count
    size = sum(e["sizeBytes"] for e in result["exports"])
    print(f"examples: {n:,} ({version.train_count:,} train, {version.validation_count:,} validation)")
    print(f"bulk load (COPY):                   {load:7.2f} s")
    print(f"createDataset (freeze {n:,}):   {freeze:7.2f} s  {n / freeze:10,.0f} rows/s")
    print(f"COPY row_to_json TO STDOUT (floor): {copy_seconds:7.2f} s  {n / copy_seconds:10,.0f} rows/s  "
          f"{copy_bytes / 1e6:,.0f} MB")  # fmt: skip
    print(f"export job {fmt.value} (worker):  {seconds:7.2f} s  {n / seconds:10,.0f} rows/s  {size / 1e6:,.0f} MB, "
          f"validated, {result['tokens']['total']:,} tokens counted")  # fmt: skip
    print(f"ratio export / COPY: {copy_seconds / seconds:.2f}")
    print(f"worker peak memory (VmHWM): {peak / 1024:.0f} MB (idle before the job: {idle_kib / 1024:.0f} MB); "
          f"its token-counting processes: {children_kib / 1024:.0f} MB together")  # fmt: skip
    print(f"problems: {result['problemCount']}, warnings: {result['warnings']}, tokenizer: {result['tokenizer']}")


if __name__ == "__main__":
    asyncio.run(main())
