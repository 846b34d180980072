"""bench.peer's row check: on a small bench database Tuneyard and PostGraphile 5 return the same rows for every query
the bench measures; and the comparison tells different rows apart (else a passing check would prove nothing)."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

from bench.peer.postgraphile import libpq_env
from bench.peer.queries import ExampleRow, first_difference, peer_page, tuneyard_page
from tests.support.databases import drop_database, with_database

REPO = Path(__file__).resolve().parent.parent
TUNEYARD_NODE = {
    "id": "7", "executionId": "gen-7", "userRequest": "publish for blog", "intent": "publish", "platform": "blog",
    "qualityScore": 0.9, "success": True, "tags": ["good"],
    "createdAt": "2025-03-01T10:00:00.000001+00:00", "updatedAt": "2025-03-02T00:00:00Z",
}  # fmt: skip
PEER_NODE = {
    **{k: v for k, v in TUNEYARD_NODE.items() if k not in ("id", "tags")},
    "rowId": "7", "exampleTagByExampleId": {"tags": ["good"]},
    "createdAt": "2025-03-01T11:00:00.000001+01:00", "updatedAt": "2025-03-02T00:00:00.000000+00:00",
}  # fmt: skip


def tuneyard_rows(*nodes: dict[str, object]) -> list[ExampleRow]:
    data = {"examples": {"pageInfo": {"hasNextPage": False, "endCursor": None}, "nodes": list(nodes)}}
    return tuneyard_page(data).rows


def peer_rows(*nodes: dict[str, object]) -> list[ExampleRow]:
    data = {"allExamples": {"pageInfo": {"hasNextPage": False, "endCursor": None}, "nodes": list(nodes)}}
    return peer_page(data).rows


def test_one_example_in_either_server_shape_compares_equal() -> None:
    assert first_difference(tuneyard_rows(TUNEYARD_NODE), peer_rows(PEER_NODE)) is None
    untagged = tuneyard_rows({**TUNEYARD_NODE, "tags": []})
    assert first_difference(untagged, peer_rows({**PEER_NODE, "exampleTagByExampleId": None})) is None


def test_different_rows_are_reported() -> None:
    other = {**TUNEYARD_NODE, "id": "8", "executionId": "gen-8"}
    ours = tuneyard_rows(TUNEYARD_NODE, other)
    assert "ids differ from row 2" in str(first_difference(ours, ours[:1]))
    assert "ids differ from row 1" in str(first_difference(ours, ours[::-1]))
    assert "ids differ from row 1" in str(first_difference(ours, tuneyard_rows(other, other)))
    retagged = peer_rows({**PEER_NODE, "exampleTagByExampleId": {"tags": ["bad"]}})
    assert (
        first_difference(ours[:1], retagged) == "example 7: tags is ('good',) from Tuneyard, ('bad',) from PostGraphile"
    )
    later = peer_rows({**PEER_NODE, "createdAt": "2025-03-01T10:00:00.000002+00:00"})
    assert "example 7: created_at" in str(first_difference(ours[:1], later))
    assert first_difference([], []) == "neither server returned any rows"


def test_database_urls_become_node_postgres_settings() -> None:
    assert libpq_env("postgresql://postgres@127.0.0.1:5432/bench") == {
        "PGHOST": "127.0.0.1", "PGPORT": "5432", "PGUSER": "postgres", "PGDATABASE": "bench",
    }  # fmt: skip
    socket = {"PGHOST": "/tmp/pg sock", "PGUSER": "postgres", "PGPASSWORD": "p@ss", "PGDATABASE": "bench"}
    assert libpq_env("postgresql://postgres:p%40ss@/bench?host=/tmp/pg sock") == socket
    assert libpq_env("postgresql://postgres:p%40ss@%2Ftmp%2Fpg%20sock/bench") == socket


def test_both_servers_return_the_same_rows_for_every_measured_query(backing: tuple[str, str]) -> None:
    admin_url, redis_url = backing
    # ensure_data names the database by its row count: a count of this run's own keeps concurrent runs on one
    # PostgreSQL server out of each other's database. 12,000 rows are enough for over 1,050 to match the filter.
    rows = 12_000 + secrets.randbelow(1000)
    env = dict(os.environ, TUNEYARD_BENCH_DATABASE_URL=admin_url, TUNEYARD_BENCH_REDIS_URL=redis_url)
    bench = subprocess.Popen(
        [sys.executable, "-m", "bench.peer", "--check-only", "--rows", str(rows)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,  # its servers (Tuneyard with its workers, PostGraphile) share its process group
    )  # fmt: skip
    try:
        output, _ = bench.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        os.killpg(bench.pid, signal.SIGKILL)
        output, _ = bench.communicate()
        raise AssertionError(f"bench.peer --check-only did not finish in 240 s:\n{output}") from None
    finally:
        asyncio.run(drop_database(admin_url, with_database(admin_url, f"tuneyard_bench_{rows}")))
    assert bench.returncode == 0, output
    assert "same rows from both servers: 21 pages of 50 up to the one after row 1,000, stats count" in output, output
