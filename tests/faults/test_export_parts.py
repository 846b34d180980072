"""A worker killed mid-export leaves `.part` files: the job's retry removes its own, a worker's start the rest."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import asyncpg
import pytest

from tests.faults.conftest import LoggedServer, wait_for, workers_of
from tests.support import GraphQLClient
from tests.support.databases import create_database, drop_database
from tests.support.datasets import load
from tuneyard.datasets import service as datasets
from tuneyard.datasets.exports import service as exports
from tuneyard.datasets.models import ExportFormat, NewDataset

EXAMPLES = 40_000
CREATE = 'mutation { createDataset(input: {name: "parts", where: {}, validationFraction: 0.1}) { id } }'
EXPORT = "mutation($id: ID!) { exportDataset(id: $id, format: OPENAI_CHAT) { id } }"
JOB = "query($id: ID!) { job(id: $id) { status attempts error } }"
ROWS = """
INSERT INTO examples (execution_id, user_request, intent, execution_plan)
SELECT 'part-' || g, 'please plan request number ' || g, 'plan', jsonb_build_object('steps', jsonb_build_array(g))
FROM generate_series(1, $1) AS g
"""


@pytest.fixture(scope="module")
async def database_url(backing: tuple[str, str]) -> AsyncIterator[str]:
    """A database of this module's own: the reaper of the session's server would otherwise retry the killed export
    on that server's workers, in another home."""
    url = await create_database(backing[0])
    yield url
    await drop_database(backing[0], url)


def _names(exports: Path, pattern: str = ".*.part") -> list[str]:
    return sorted(p.name for p in exports.glob(pattern))


async def test_worker_killed_mid_export_leaves_no_part(
    pool: asyncpg.Pool, database_url: str, redis_url: str, start_server: Callable[..., LoggedServer]
) -> None:
    await pool.execute(ROWS, EXAMPLES)
    server = start_server(database_url, redis_url, workers=1)
    curator = GraphQLClient(server.url, server.token())
    exports = Path(server.env["TUNEYARD_HOME"]) / "exports"
    dataset = curator.data(CREATE)["createDataset"]["id"]
    [first_worker] = workers_of(server)
    job = curator.data(EXPORT, {"id": dataset})["exportDataset"]["id"]

    wait_for(lambda: any(name.startswith(f".job-{job}-") for name in _names(exports)), "the export to write", 60)
    # Left by runs of other times: a job that is over, and an unattended export long ago. Written before the kill,
    # so the next worker's start (which may come at once) finds them.
    (exports / ".job-999999-0123456789ab.part").write_bytes(b"partial")
    old = exports / ".0123456789ab.part"
    old.write_bytes(b"partial")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    first_worker.send_signal(signal.SIGKILL)
    assert curator.data(JOB, {"id": job})["job"]["status"] == "RUNNING", "killed mid-export"
    assert any(name.startswith(f".job-{job}-") for name in _names(exports)), "the killed run left its files"

    wait_for(lambda: [w for w in workers_of(server) if w.pid != first_worker.pid], "serve to start another worker")
    done = wait_for(
        lambda: (j := curator.data(JOB, {"id": job})["job"])["status"] in ("SUCCEEDED", "FAILED") and j, "the retry", 90
    )
    assert done == {"status": "SUCCEEDED", "attempts": 2, "error": None}, done
    assert _names(exports) == [], f"no temporary file is left; the server said:\n{server.output()[-6000:]}"
    assert len(_names(exports, "*.jsonl")) == 2  # the retry's train and validation files


async def test_a_retry_removes_what_its_earlier_attempts_left(pool: asyncpg.Pool, tmp_path: Path) -> None:
    await load(pool, 20)
    dataset = await datasets.create(pool, NewDataset("retry", None, {}, 0.0, 1))
    earlier = tmp_path / ".job-7-0123456789ab.part"  # a killed attempt of job 7
    other = tmp_path / ".job-8-0123456789ab.part"  # job 8 may still be running elsewhere
    for path in (earlier, other):
        path.write_bytes(b"partial")
    await exports.export_dataset(pool, tmp_path, dataset.id, ExportFormat.OPENAI_CHAT, job_id="7")
    assert _names(tmp_path) == [other.name], "only the other job's file is left"
    assert len(_names(tmp_path, "*.jsonl")) == 1
