"""Bulk tagging, undo, archive and restore past the threshold: CURATION jobs run by real `tuneyard worker` processes.

The threshold is 50 examples here and a chunk 20 ids, over 400 examples (ids 1..400): 20 chunks. A chunk is held
up by a row lock the test takes on one example's tags, so that a worker can be killed, or its job cancelled, with a
known number of chunks done.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.faults.conftest import start_worker
from tests.support import JOB_TEST_SETTINGS, GraphQLClient, GraphQLWebSocket, Server, service_env, tuneyard
from tests.support.databases import create_database, drop_database
from tuneyard.core import queue as broker
from tuneyard.core.config import Settings
from tuneyard.curation import service

THRESHOLD, SPAN, EXAMPLES = 50, 20, 400
TAG = """mutation($w: ExampleFilter!, $a: [String!], $r: [String!]) {
  tagExamples(where: $w, add: $a, remove: $r) { id affectedCount complete job { id kind status } } }"""
UNDO = "mutation($id: ID!) { undoTagOperation(id: $id) { id affectedCount undoneAt complete undoJob { id status } } }"
ARCHIVE = "mutation($w: ExampleFilter!) { archiveExamples(where: $w) { affectedCount job { id kind status input } } }"
RESTORE = "mutation($w: ExampleFilter!) { restoreExamples(where: $w) { affectedCount job { id kind status } } }"
OPERATIONS = "{ tagOperations(first: 20) { id affectedCount complete undoneAt job { id status } undoJob { id } } }"
JOB = "query($id: ID!) { job(id: $id) { status progress attempts error result events(last: 1000) { message } } }"
CANCEL = "mutation($id: ID!) { cancelJob(id: $id) { status } }"
PROGRESS = "subscription($id: ID!) { jobProgress(id: $id) { status progress message result } }"
SEED = """
INSERT INTO examples (execution_id, user_request, intent, quality_score)
SELECT 'bulk-' || i, 'request ' || i, (ARRAY['publish', 'reply', 'plan'])[1 + i % 3], (i % 10) / 10.0
FROM generate_series(1, $1) AS i
"""
# Every example has a tags row (a chunk can then be held up by locking one): some with "old", the tag removed below.
SEED_TAGS = """
INSERT INTO example_tags (example_id, tags)
SELECT id, CASE id % 4 WHEN 0 THEN ARRAY['old'] WHEN 1 THEN ARRAY['keep', 'old'] ELSE ARRAY['keep'] END FROM examples
"""


@dataclass
class Yard:
    env: dict[str, str]
    server: Server
    curator: GraphQLClient
    token: str
    logs: Path


@pytest.fixture(scope="module")
async def database_url(backing: tuple[str, str]) -> AsyncIterator[str]:
    """A database of this module's own: no other server's reaper takes up the jobs of the workers killed here."""
    url = await create_database(backing[0])
    yield url
    await drop_database(backing[0], url)


@pytest.fixture(scope="module")
def yard(database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Yard]:
    """An API server without workers (each test starts its own), the bulk threshold and chunk made small."""
    namespace = f"tuneyard-bulk-{uuid.uuid4().hex[:10]}"
    home = tmp_path_factory.mktemp("bulk")
    env = service_env(
        database_url, redis_url, **JOB_TEST_SETTINGS, TUNEYARD_HOME=str(home / "home"),
        TUNEYARD_QUEUE_NAMESPACE=namespace, TUNEYARD_SERVE_WORKERS="0",
        TUNEYARD_BULK_JOB_THRESHOLD=str(THRESHOLD), TUNEYARD_BULK_JOB_CHUNK_IDS=str(SPAN),
        TUNEYARD_JOB_PROGRESS_INTERVAL="0",  # an event for every chunk
        TUNEYARD_WORKER_TASK_MODULES='["tuneyard.curation.tasks"]',
    )  # fmt: skip
    server = Server(env)
    server.start()
    try:
        token = tuneyard("token", "create", "--role", "CURATOR", "--name", "bulk", env=env).strip()
        yield Yard(env, server, GraphQLClient(server.url, token), token, home)
    finally:
        server.stop()
        broker.configure(Settings(queue_namespace=namespace), redis_url).flush_all()
        broker.close()


@pytest.fixture
def workers(yard: Yard) -> Iterator[Callable[[], Awaitable[subprocess.Popen[bytes]]]]:
    """start(): a ready `tuneyard worker --queues curation`; every one is killed after the test."""
    started: list[subprocess.Popen[bytes]] = []

    async def start() -> subprocess.Popen[bytes]:
        log = yard.logs / f"worker-{uuid.uuid4().hex[:6]}.log"
        started.append(await asyncio.to_thread(start_worker, yard.env, log, "curation"))
        return started[-1]

    yield start
    for worker in started:
        if worker.poll() is None:
            worker.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            worker.wait(10)


async def _seed(pool: asyncpg.Pool) -> dict[int, list[str]]:
    await pool.execute(SEED, EXAMPLES)
    await pool.execute(SEED_TAGS)
    return await _tags(pool)


async def _tags(pool: asyncpg.Pool) -> dict[int, list[str]]:
    rows = await pool.fetch(
        "SELECT e.id, coalesce(t.tags, '{}') AS tags FROM examples e LEFT JOIN example_tags t ON t.example_id = e.id"
    )
    return {r["id"]: r["tags"] for r in rows}


async def _log(pool: asyncpg.Pool, operation_id: int) -> list[tuple[int, list[str], list[str]]]:
    """The operation's log, one entry per example it names (a chunk logged twice would name its examples twice)."""
    rows = await pool.fetch(
        "SELECT x, added, removed FROM tag_operation_batches b CROSS JOIN LATERAL unnest(b.example_ids) AS x "
        "WHERE operation_id = $1 ORDER BY x",
        operation_id,
    )
    return [(r["x"], r["added"], r["removed"]) for r in rows]


async def _run(pool: asyncpg.Pool, job_id: str) -> asyncpg.Record:
    row = await pool.fetchrow("SELECT * FROM curation_runs WHERE job_id = $1", int(job_id))
    assert row is not None
    return row


def _operation(yard: Yard, operation_id: str) -> dict[str, Any]:
    [found] = [o for o in yard.curator.data(OPERATIONS)["tagOperations"] if o["id"] == operation_id]
    return found


def _finished(yard: Yard, job_id: str, timeout: float = 60) -> dict[str, Any]:
    return yard.curator.finished_job(JOB, job_id, timeout)


async def _until(check: Callable[[], Awaitable[Any]], what: str, within: float = 30) -> Any:
    deadline = asyncio.get_running_loop().time() + within
    while asyncio.get_running_loop().time() < deadline:
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@contextlib.asynccontextmanager
async def _holding_tags_of(database_url: str, example_id: int) -> AsyncIterator[asyncpg.Connection]:
    """Hold a row lock on the example's tags: the chunk that writes them waits, its transaction open, until it ends."""
    blocker = await asyncpg.connect(database_url)
    try:
        async with blocker.transaction():
            await blocker.execute("SELECT 1 FROM example_tags WHERE example_id = $1 FOR UPDATE", example_id)
            yield blocker
    finally:
        await blocker.close()


async def _chunk_waiting(pool: asyncpg.Pool, job_id: str, done_through: int) -> bool:
    """The job's run is done through `done_through`, and its next chunk waits for a lock."""
    waiting = await pool.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    run = await pool.fetchrow("SELECT done_through FROM curation_runs WHERE job_id = $1", int(job_id))
    return waiting > 0 and run is not None and run["done_through"] == done_through


async def test_at_or_under_the_threshold_runs_inline_and_past_it_starts_a_job(yard: Yard, pool: asyncpg.Pool) -> None:
    before = await _seed(pool)
    fifty = {"ids": [str(i) for i in range(1, THRESHOLD + 1)]}
    op = yard.curator.data(TAG, {"w": fifty, "a": ["x"]})["tagExamples"]
    assert (op["affectedCount"], op["complete"], op["job"]) == (THRESHOLD, True, None)
    assert all("x" in tags for i, tags in (await _tags(pool)).items() if i <= THRESHOLD)
    undone = yard.curator.data(UNDO, {"id": op["id"]})["undoTagOperation"]
    assert undone["undoneAt"] is not None and undone["undoJob"] is None and await _tags(pool) == before
    assert yard.curator.data(ARCHIVE, {"w": fifty})["archiveExamples"] == {"affectedCount": THRESHOLD, "job": None}
    restored = yard.curator.data(RESTORE, {"w": fifty})["restoreExamples"]
    assert restored == {"affectedCount": THRESHOLD, "job": None}

    # One more: a job, started and returned at once (no worker runs here, so it stays queued), nothing changed yet.
    more = {"ids": [str(i) for i in range(1, THRESHOLD + 2)]}
    op = yard.curator.data(TAG, {"w": more, "a": ["x"]})["tagExamples"]
    assert (op["affectedCount"], op["complete"]) == (0, False)
    assert op["job"]["kind"] == "CURATION" and op["job"]["status"] == "QUEUED"
    archiving = yard.curator.data(ARCHIVE, {"w": more})["archiveExamples"]
    assert archiving["affectedCount"] == 0 and archiving["job"]["kind"] == "CURATION"
    assert archiving["job"]["input"]["action"] == "ARCHIVE"
    refused = yard.curator.error(UNDO, {"id": op["id"]})
    assert (
        refused["extensions"]["code"] == "CONFLICT"
        and f"still being applied by job {op['job']['id']}" in (refused["message"])
    )
    for job in (op["job"], archiving["job"]):
        assert yard.curator.data(CANCEL, {"id": job["id"]})["cancelJob"]["status"] == "CANCELLED"
    assert await _tags(pool) == before and not await pool.fetchval("SELECT count(*) FROM examples WHERE archived")
    # Its job cancelled before it started: an operation that changed nothing, undone at once.
    assert _operation(yard, op["id"])["complete"] is False
    assert yard.curator.data(UNDO, {"id": op["id"]})["undoTagOperation"]["undoneAt"] is not None


async def test_a_tagging_job_does_what_the_inline_path_does_with_progress_and_is_undone_as_one(
    yard: Yard, pool: asyncpg.Pool, workers: Callable[[], Awaitable[subprocess.Popen[bytes]]]
) -> None:
    before = await _seed(pool)
    where = {"or": [{"intent": {"eq": "publish"}}, {"tags": {"containsAny": ["old"]}}]}
    op = yard.curator.data(TAG, {"w": where, "a": ["new", "x"], "r": ["old"]})["tagExamples"]
    job_id = op["job"]["id"]
    async with GraphQLWebSocket(yard.server.url, yard.token) as ws:
        await ws.subscribe(PROGRESS, {"id": job_id})
        await workers()
        events = [e["jobProgress"] for e in await ws.results(wait=60)]
    last = events[-1]
    assert last["status"] == "SUCCEEDED" and last["progress"] == 1.0, events
    running = [e["progress"] for e in events if e["status"] == "RUNNING" and 0 < e["progress"] < 1]
    assert len(set(running)) >= 5 and running == sorted(running), events
    assert any("of the ids walked" in (e["message"] or "") for e in events)
    tagged, log = await _tags(pool), await _log(pool, int(op["id"]))
    done = _operation(yard, op["id"])
    assert done["complete"] is True and done["job"] == {"id": job_id, "status": "SUCCEEDED"}
    assert last["result"] == {
        "action": "TAG", "operationId": int(op["id"]), "affectedCount": done["affectedCount"], "chunks": 20,
        "complete": True,
    }  # fmt: skip
    assert done["affectedCount"] == len(log) == len({x for x, _, _ in log}) > THRESHOLD

    # Undone as one, by a job of its own: every example as before.
    undo = yard.curator.data(UNDO, {"id": op["id"]})["undoTagOperation"]
    assert undo["undoneAt"] is None and undo["undoJob"]["status"] in ("QUEUED", "RUNNING", "SUCCEEDED")
    finished = _finished(yard, undo["undoJob"]["id"])
    assert finished["status"] == "SUCCEEDED" and finished["result"]["complete"] is True, finished
    assert await _tags(pool) == before
    assert _operation(yard, op["id"])["undoneAt"] is not None
    again = yard.curator.error(UNDO, {"id": op["id"]})
    assert again["extensions"]["code"] == "CONFLICT" and "already undone" in again["message"]

    # The same operation inline, on the same examples: the same tags, and the same log.
    inline = await service.tag_examples(pool, where, ["new", "x"], ["old"], None)
    assert inline.affected_count == done["affectedCount"] and inline.job_id is None and inline.complete
    assert await _tags(pool) == tagged
    assert await _log(pool, inline.id) == log


async def test_a_worker_killed_mid_chunk_leaves_it_undone_and_the_retry_goes_on_after_the_last_commit(
    yard: Yard, pool: asyncpg.Pool, database_url: str, workers: Callable[[], Awaitable[subprocess.Popen[bytes]]]
) -> None:
    before = await _seed(pool)
    async with _holding_tags_of(database_url, 210):  # in the 11th chunk, ids 201..220
        op = yard.curator.data(TAG, {"w": {}, "a": ["k"]})["tagExamples"]
        job_id = op["job"]["id"]
        first = await workers()
        await _until(lambda: _chunk_waiting(pool, job_id, 200), "the 11th chunk to wait for the lock")
        first.kill()  # SIGKILL, its 11th chunk's transaction open
        first.wait(10)
    run = await _run(pool, job_id)
    assert (run["done_through"], run["chunks"], run["changed"]) == (200, 10, 200)
    assert [x for x, _, _ in await _log(pool, int(op["id"]))] == list(range(1, 201))

    await workers()  # its reaper finds the job without a heartbeat and puts it back in the queue; it goes on
    job = _finished(yard, job_id, timeout=60)
    assert (job["status"], job["attempts"]) == ("SUCCEEDED", 2), job
    assert any("worker lost on attempt 1" in (e["message"] or "") for e in job["events"])
    run = await _run(pool, job_id)
    assert (run["done_through"], run["chunks"], run["changed"]) == (EXAMPLES, 20, EXAMPLES), "no chunk done twice"
    assert job["result"]["chunks"] == 20 and job["result"]["affectedCount"] == EXAMPLES
    assert await _log(pool, int(op["id"])) == [(i, ["k"], []) for i in range(1, EXAMPLES + 1)]
    assert await _tags(pool) == {i: sorted([*tags, "k"]) for i, tags in before.items()}
    assert _operation(yard, op["id"])["affectedCount"] == EXAMPLES


async def test_a_cancelled_tagging_job_keeps_its_chunks_and_is_undone_as_one(
    yard: Yard, pool: asyncpg.Pool, database_url: str, workers: Callable[[], Awaitable[subprocess.Popen[bytes]]]
) -> None:
    before = await _seed(pool)
    await workers()
    async with _holding_tags_of(database_url, 210):
        op = yard.curator.data(TAG, {"w": {}, "a": ["c"], "r": ["old"]})["tagExamples"]
        job_id = op["job"]["id"]
        await _until(lambda: _chunk_waiting(pool, job_id, 200), "the 11th chunk to wait for the lock")
        refused = yard.curator.error(UNDO, {"id": op["id"]})
        assert refused["extensions"]["code"] == "CONFLICT" and "cancel the job" in refused["message"], refused
        assert yard.curator.data(CANCEL, {"id": job_id})["cancelJob"]["status"] == "CANCELLING"
    job = _finished(yard, job_id)
    assert job["status"] == "CANCELLED" and job["result"]["complete"] is False, job
    run = await _run(pool, job_id)
    assert run["finished_at"] is None and 220 <= run["done_through"] < EXAMPLES, "the held chunk ended, then it stopped"
    through = run["done_through"]
    tags = await _tags(pool)
    assert all(tags[i] == before[i] for i in before if i > through), "nothing past the last chunk done"
    assert all("c" in tags[i] and "old" not in tags[i] for i in before if i <= through)
    cancelled = _operation(yard, op["id"])
    assert cancelled["complete"] is False and cancelled["job"]["status"] == "CANCELLED"
    assert cancelled["affectedCount"] == len(await _log(pool, int(op["id"]))) == through

    # Undone as one, by a job (220 > 50). That job too is cancelled part-way, while the 6th of its chunks waits.
    async with _holding_tags_of(database_url, 110):
        undo = yard.curator.data(UNDO, {"id": op["id"]})["undoTagOperation"]
        undo_job = undo["undoJob"]["id"]
        await _until(lambda: _chunk_waiting(pool, undo_job, 100), "the undo's 6th chunk to wait for the lock")
        busy = yard.curator.error(UNDO, {"id": op["id"]})
        assert busy["extensions"]["code"] == "CONFLICT" and f"being undone by job {undo_job}" in busy["message"]
        assert yard.curator.data(CANCEL, {"id": undo_job})["cancelJob"]["status"] == "CANCELLING"
    assert _finished(yard, undo_job)["status"] == "CANCELLED"
    half = (await _run(pool, undo_job))["done_through"]
    tags = await _tags(pool)
    assert 120 <= half < through and all(tags[i] == before[i] for i in before if i <= half)
    assert _operation(yard, op["id"])["undoneAt"] is None
    # Someone tags an example the stopped undo already did, with the operation's tag: undoing again goes on after it
    # (an undo of that example again would take the tag off).
    assert before[5] == ["keep", "old"]
    await pool.execute("UPDATE example_tags SET tags = '{c,keep,old}' WHERE example_id = 5")
    again = yard.curator.data(UNDO, {"id": op["id"]})["undoTagOperation"]
    assert _finished(yard, again["undoJob"]["id"])["status"] == "SUCCEEDED"
    assert await _tags(pool) == {**before, 5: ["c", "keep", "old"]}
    assert _operation(yard, op["id"])["undoneAt"] is not None


async def test_archive_and_restore_jobs(
    yard: Yard, pool: asyncpg.Pool, workers: Callable[[], Awaitable[subprocess.Popen[bytes]]]
) -> None:
    await _seed(pool)
    # Archived already: low scores (outside the filter), and a few high ones (matched, but not changed again).
    already = {
        r["id"]
        for r in await pool.fetch("UPDATE examples SET archived = true WHERE id % 10 = 1 OR id % 20 = 9 RETURNING id")
    }
    where = {"qualityScore": {"gte": 0.5}}
    matching = {r["id"] for r in await pool.fetch("SELECT id FROM examples WHERE quality_score >= 0.5")}
    await workers()
    archiving = yard.curator.data(ARCHIVE, {"w": where})["archiveExamples"]
    job = _finished(yard, archiving["job"]["id"])
    assert job["status"] == "SUCCEEDED" and job["result"]["affectedCount"] == len(matching - already), job
    assert {r["id"] for r in await pool.fetch("SELECT id FROM examples WHERE archived")} == matching | already

    restoring = yard.curator.data(RESTORE, {"w": where})["restoreExamples"]
    job = _finished(yard, restoring["job"]["id"])
    assert job["status"] == "SUCCEEDED" and job["result"]["affectedCount"] == len(matching), job
    assert {r["id"] for r in await pool.fetch("SELECT id FROM examples WHERE archived")} == already - matching
