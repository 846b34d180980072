"""The heaviest request the limits allow does not hold the server: /healthz answers within 100 ms meanwhile.

The issue asks for this timing explicitly (a probe saw /healthz blocked 27 s by one READER request); it is the
one test in this folder that asserts a duration.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import orjson
import pytest

from tests.support import RECORD, GraphQLClient, Server

PAGE = 500
ALIASES = 20  # 20 x 500 = 10,000 rows: the default row limit, exactly
# Three of the heaviest fields per row: cost 20 x (1 + 500 x (1 + 3)) = 40,020, under the default 50,000.
WORST = "{" + " ".join(f"p{i}: examples(first: {PAGE}) {{ nodes {{ userRequest businessState executionPlan }} }}" for i in range(ALIASES)) + "}"  # fmt: skip


@pytest.fixture(scope="module")
def loaded(env: dict[str, str], tokens: dict[str, str], database_url: str) -> Iterator[Server]:
    """A server of its own (no workers) over 500 examples of about 2.7 KB each: the worst response is ~27 MB."""
    asyncio.run(_empty(database_url))
    running = Server({**env, "TUNEYARD_SERVE_WORKERS": "0"})
    running.start()
    state = {f"k{i}": "v" * 80 for i in range(10)}
    batch = [
        {"executionId": f"load-{n}", "userRequest": f"request {n} " + "w" * 880, "businessState": state,
         "executionPlan": {"steps": [{"tool": "t", "args": state}]}}
        for n in range(PAGE)
    ]  # fmt: skip
    GraphQLClient(running.url, tokens["CURATOR"]).data(RECORD, {"examples": batch})
    yield running
    running.stop()


async def _empty(database_url: str) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute("TRUNCATE examples RESTART IDENTITY CASCADE")
    finally:
        await connection.close()


# The heavy request goes from a process of its own, so that reading its 27 MB never delays the polls.
HEAVY_CLIENT = """
import sys, httpx
response = httpx.post(sys.argv[1] + "/graphql", json={"query": sys.argv[3]}, timeout=120,
                      headers={"Authorization": "Bearer " + sys.argv[2]})
open(sys.argv[4], "wb").write(response.content)
sys.exit(0 if response.status_code == 200 else 1)
"""


async def _healthz_timings_during_the_worst_request(url: str, token: str, answer: Path) -> list[float]:
    """Every /healthz answer's time (s) while the worst allowed request runs, polled every 20 ms."""
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        await client.get("/healthz")  # a connection ready before the clock starts
        heavy = await asyncio.create_subprocess_exec(sys.executable, "-c", HEAVY_CLIENT, url, token, WORST, str(answer))
        timings = []
        while heavy.returncode is None:
            started = time.perf_counter()
            assert (await client.get("/healthz")).json()["status"] == "ok"
            timings.append(time.perf_counter() - started)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(heavy.wait(), 0.02)
    content = await asyncio.to_thread(answer.read_bytes)
    assert heavy.returncode == 0, content[:500]
    body = orjson.loads(content)
    assert "errors" not in body and sum(len(page["nodes"]) for page in body["data"].values()) == ALIASES * PAGE
    assert len(content) > 20_000_000, "the worst request is a big one"
    assert len(timings) >= 5, "the heavy request ran long enough to be measured"
    return timings


async def test_healthz_answers_within_100_ms_while_the_worst_allowed_request_runs(
    loaded: Server, tokens: dict[str, str], tmp_path: Path
) -> None:
    # Best of three runs: on a shared machine another process may take the CPU for a moment during any one run,
    # while a stall the server causes itself (a blocking encode, a big write) shows in every run.
    runs = []
    for _ in range(3):
        timings = await _healthz_timings_during_the_worst_request(loaded.url, tokens["READER"], tmp_path / "answer")
        runs.append([round(t * 1000) for t in timings])
        if max(timings) < 0.1:
            return
    raise AssertionError(f"/healthz took over 100 ms in every run (ms): {runs}")
