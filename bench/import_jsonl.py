"""JSONL import throughput: `tuneyard import FILE` of generated examples through the real job path.

Usage: .venv/bin/python -m bench.import_jsonl [--lines 1000000]
Writes a file of bench.data examples, runs a `tuneyard worker` for the import queue on a scratch database of
TUNEYARD_BENCH_DATABASE_URL's server and TUNEYARD_BENCH_REDIS_URL (a queue namespace of its own), then times
`tuneyard import FILE` twice: into the empty database, and again (every line skipped: its executionId exists).
Prints lines/s for the job (its started_at to finished_at) and for the whole command (copy, queue, job, follow).
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
import orjson

from bench.common import REDIS_URL, create_database, drop_database
from bench.data import examples
from tests.support import service_env


def write_file(path: Path, count: int) -> None:
    with path.open("wb") as file:
        for example in examples(count, prefix="import"):
            file.write(orjson.dumps(example) + b"\n")


async def job_seconds(database_url: str) -> tuple[float, dict[str, object]]:
    """The latest IMPORT job's running time and result."""
    conn = await asyncpg.connect(database_url)
    try:
        row = await conn.fetchrow(
            "SELECT extract(epoch FROM finished_at - started_at) AS s, status, result::text FROM jobs "
            "WHERE kind = 'IMPORT' ORDER BY id DESC LIMIT 1"
        )
    finally:
        await conn.close()
    assert row is not None and row["status"] == "SUCCEEDED", row
    return float(row["s"]), orjson.loads(row["result"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    args = parser.parse_args()
    database_url = asyncio.run(create_database())
    folder = Path(tempfile.mkdtemp(prefix="tuneyard-import-bench-"))
    env = service_env(
        database_url, REDIS_URL, TUNEYARD_HOME=str(folder / "home"),
        TUNEYARD_QUEUE_NAMESPACE=f"bench-import-{uuid.uuid4().hex[:8]}",
    )  # fmt: skip
    worker = subprocess.Popen([sys.executable, "-m", "tuneyard.cli", "worker", "--queues", "import"], env=env)
    try:
        source = folder / "examples.jsonl"
        started = time.perf_counter()
        write_file(source, args.lines)
        size = source.stat().st_size
        print(f"generated {args.lines:,} lines ({size / 2**20:,.0f} MiB) in {time.perf_counter() - started:.1f} s")
        for label in ("into an empty database", "again (every line skipped)"):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-m", "tuneyard.cli", "import", str(source)], env=env, check=True)
            command = time.perf_counter() - started
            seconds, result = asyncio.run(job_seconds(database_url))
            print(
                f"import {label}: job {seconds:.1f} s = {args.lines / seconds:,.0f} lines/s; "
                f"command {command:.1f} s = {args.lines / command:,.0f} lines/s; "
                f"inserted {result['inserted']:,}, skipped {result['skipped']:,}"
            )
    finally:
        worker.terminate()
        worker.wait(60)
        for path in sorted(folder.rglob("*"), reverse=True):
            path.rmdir() if path.is_dir() else path.unlink()
        folder.rmdir()
        asyncio.run(drop_database(database_url))


if __name__ == "__main__":
    main()
