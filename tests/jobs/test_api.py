"""Jobs over the API: a real `tuneyard serve` with its worker process, real WebSocket subscriptions."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from typing import Any

import asyncpg
import orjson
import psutil
import pytest

from tests.support import WS_PROTOCOLS, GraphQLClient, GraphQLWebSocket, Server

CHECK = (
    "mutation($c: Int!, $p: Int!, $r: Boolean!) { checkExamples(chunkSize: $c, pauseMs: $p, repair: $r) { id status } }"
)
PROGRESS = "subscription($id: ID!) { jobProgress(id: $id) { id status progress message attempts result } }"
UPDATES = "subscription($k: [JobKind!]) { jobUpdates(kind: $k) { id kind status progress } }"
CANCEL = "mutation($id: ID!) { cancelJob(id: $id) { id status } }"
JOB = "query($id: ID!) { job(id: $id) { status progress attempts error result events(last: 1000) { seq status progress message } } }"


async def _seed(db: asyncpg.Connection, count: int) -> None:
    await db.execute(
        """INSERT INTO examples (execution_id, user_request)
           SELECT 'job-' || i, 'request ' || i FROM generate_series(1, $1) AS i""",
        count,
    )
    await db.execute("INSERT INTO example_tags (example_id, tags) SELECT id, ARRAY['prod'] FROM examples")


def _start(client: GraphQLClient, chunk: int, pause_ms: int, repair: bool = False) -> str:
    job = client.data(CHECK, {"c": chunk, "p": pause_ms, "r": repair})["checkExamples"]
    assert job["status"] == "QUEUED"
    return str(job["id"])


def _statuses(events: list[dict[str, Any]]) -> list[str]:
    return [e["jobProgress"]["status"] for e in events]


@pytest.mark.parametrize("protocol", WS_PROTOCOLS)
async def test_progress_arrives_in_order_and_the_subscription_completes(
    server: Server, curator: GraphQLClient, tokens: dict[str, str], db: asyncpg.Connection, protocol: str
) -> None:
    await _seed(db, 200)
    async with GraphQLWebSocket(server.url, tokens["READER"], protocol) as ws:
        await ws.subscribe(UPDATES, {"k": ["MAINTENANCE"]}, op_id="all")
        job_id = _start(curator, chunk=20, pause_ms=30)
        await ws.subscribe(PROGRESS, {"id": job_id}, op_id="one")
        seen: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        completed = False
        # Both operations share the socket, in no fixed order: read until each has seen the end.
        while not (completed and updates and updates[-1]["status"] == "SUCCEEDED"):
            kind, message = await ws.receive()
            if message.get("id") == "all":
                if message["payload"]["data"]["jobUpdates"]["id"] == job_id:
                    updates.append(message["payload"]["data"]["jobUpdates"])
            elif kind == "complete":
                completed = True
            else:
                assert kind == "next" and "errors" not in message["payload"], message
                seen.append(message["payload"]["data"])
    statuses = _statuses(seen)
    assert statuses[0] in ("QUEUED", "RUNNING") and statuses[-1] == "SUCCEEDED"
    assert statuses.count("SUCCEEDED") == 1
    progress = [e["jobProgress"]["progress"] for e in seen]
    assert progress == sorted(progress) and progress[-1] == 1.0
    assert len(seen) >= 5, "several progress events, not only the final state"
    final = seen[-1]["jobProgress"]
    assert final["result"] == {
        "examined": 200, "tagsNotNormalized": 0, "blankTags": 0, "overlongTags": 0, "repaired": 0,
        "contentProblems": 0, "problems": [], "complete": True,
    }  # fmt: skip
    assert final["attempts"] == 1
    # jobUpdates saw the same job through to its end.
    assert updates[-1]["kind"] == "MAINTENANCE" and [u["progress"] for u in updates][-1] == 1.0
    # The events are the record of what subscribers were told: seq increases by one, ending SUCCEEDED.
    events = curator.data(JOB, {"id": job_id})["job"]["events"]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[0]["status"] == "QUEUED" and events[-1]["status"] == "SUCCEEDED"


async def test_progress_events_are_throttled_but_the_final_state_arrives(
    server: Server, curator: GraphQLClient, tokens: dict[str, str], db: asyncpg.Connection
) -> None:
    await _seed(db, 400)
    job_id = _start(curator, chunk=1, pause_ms=0)  # 400 progress calls as fast as the database allows
    async with GraphQLWebSocket(server.url, tokens["READER"]) as ws:
        await ws.subscribe(PROGRESS, {"id": job_id})
        seen = await ws.results()
    assert _statuses(seen)[-1] == "SUCCEEDED"
    events = await db.fetch("SELECT at, status FROM job_events WHERE job_id = $1 ORDER BY seq", int(job_id))
    running = [e["at"] for e in events if e["status"] == "RUNNING"]
    elapsed = (running[-1] - running[0]).total_seconds()
    assert len(running) <= elapsed * 10 + 3, f"{len(running)} progress events in {elapsed:.2f} s"
    assert len(running) < 400


async def test_a_client_that_reconnects_mid_job_gets_the_current_state(
    server: Server, curator: GraphQLClient, tokens: dict[str, str], db: asyncpg.Connection
) -> None:
    await _seed(db, 300)
    job_id = _start(curator, chunk=10, pause_ms=60)
    async with GraphQLWebSocket(server.url, tokens["READER"]) as ws:
        await ws.subscribe(PROGRESS, {"id": job_id})
        before = []
        while len(before) < 3:
            before.append((await ws.receive())[1]["payload"]["data"]["jobProgress"])
    await asyncio.sleep(0.3)  # changes happen while nobody listens
    async with GraphQLWebSocket(server.url, tokens["READER"], "graphql-ws") as ws:
        await ws.subscribe(PROGRESS, {"id": job_id})
        after = [e["jobProgress"] for e in await ws.results()]
    assert before[-1]["status"] == "RUNNING"
    assert after[0]["progress"] > before[-1]["progress"], "the first thing after reconnecting is the state now"
    assert after[-1]["status"] == "SUCCEEDED"


async def test_cancel_mid_job_ends_cancelled_and_reader_may_watch_but_not_cancel(
    server: Server, curator: GraphQLClient, reader: GraphQLClient, tokens: dict[str, str], db: asyncpg.Connection
) -> None:
    await _seed(db, 300)
    job_id = _start(curator, chunk=10, pause_ms=80)
    async with GraphQLWebSocket(server.url, tokens["READER"]) as ws:
        await ws.subscribe(PROGRESS, {"id": job_id})
        while True:
            job = (await ws.receive())[1]["payload"]["data"]["jobProgress"]
            if job["status"] == "RUNNING" and job["progress"] > 0:
                break
        assert reader.error(CANCEL, {"id": job_id})["extensions"]["code"] == "FORBIDDEN"
        assert curator.data(CANCEL, {"id": job_id})["cancelJob"]["status"] == "CANCELLING"
        assert curator.data(CANCEL, {"id": job_id})["cancelJob"]["status"] in ("CANCELLING", "CANCELLED")
        rest = [e["jobProgress"] for e in await ws.results()]
    assert rest[-1]["status"] == "CANCELLED"
    assert "CANCELLING" in [e["status"] for e in rest] or len(rest) == 1
    partial = rest[-1]["result"]
    assert partial["complete"] is False and 0 < partial["examined"] < 300
    conflict = curator.error(CANCEL, {"id": job_id})
    assert conflict["extensions"]["code"] == "CONFLICT" and "already CANCELLED" in conflict["message"]
    assert curator.error(CANCEL, {"id": "987654"})["extensions"]["code"] == "NOT_FOUND"


async def test_a_worker_killed_mid_job_has_its_job_retried(
    server: Server, curator: GraphQLClient, tokens: dict[str, str], db: asyncpg.Connection
) -> None:
    await _seed(db, 200)
    assert server.process is not None
    workers = [p for p in psutil.Process(server.process.pid).children() if "worker" in " ".join(p.cmdline())]
    assert len(workers) == 1, workers
    job_id = _start(curator, chunk=10, pause_ms=50)
    async with GraphQLWebSocket(server.url, tokens["READER"]) as ws:
        await ws.subscribe(PROGRESS, {"id": job_id})
        while (await ws.receive())[1]["payload"]["data"]["jobProgress"]["progress"] < 0.2:
            pass
        os.kill(workers[0].pid, signal.SIGKILL)
        killed_at = time.monotonic()
        rest = [e["jobProgress"] for e in await ws.results(wait=30)]
    # The server restarts its worker; a reaper sees the heartbeat stop (2.5 s in tests) and re-queues the job.
    assert [e["status"] for e in rest][-1] == "SUCCEEDED", rest
    assert "QUEUED" in [e["status"] for e in rest]
    assert rest[-1]["attempts"] == 2 and rest[-1]["result"]["examined"] == 200
    assert time.monotonic() - killed_at < 30
    events = curator.data(JOB, {"id": job_id})["job"]["events"]
    assert any("worker lost on attempt 1" in (e["message"] or "") for e in events)


async def test_job_queries_pagination_and_errors(
    server: Server, curator: GraphQLClient, reader: GraphQLClient, tokens: dict[str, str], db: asyncpg.Connection
) -> None:
    await _seed(db, 5)
    ids = [_start(curator, chunk=100, pause_ms=0) for _ in range(3)]
    page = curator.data('{ jobs(kind: [MAINTENANCE], first: 2) { totalCount pageInfo { hasNextPage endCursor } nodes { id kind } edges { cursor } } }')["jobs"]  # fmt: skip
    assert [n["id"] for n in page["nodes"]] == [ids[2], ids[1]], "newest first"
    assert page["pageInfo"]["hasNextPage"] and page["totalCount"] >= 3
    after = page["pageInfo"]["endCursor"]
    rest = curator.data(
        "query($a: String) { jobs(kind: [MAINTENANCE], first: 1, after: $a) { nodes { id } } }", {"a": after}
    )
    assert rest["jobs"]["nodes"] == [{"id": ids[0]}]
    others = curator.data("{ jobs(kind: [EXPORT, BENCHMARK]) { nodes { id kind } } }")["jobs"]["nodes"]
    assert all(n["kind"] in ("EXPORT", "BENCHMARK") for n in others)
    assert curator.error('{ jobs(after: "nonsense") { nodes { id } } }')["extensions"]["code"] == "BAD_USER_INPUT"
    assert reader.data('{ job(id: "424242") { id } }') == {"job": None}
    malformed = reader.error('{ job(id: "12abc") { id } }')
    assert malformed["extensions"]["code"] == "BAD_USER_INPUT" and "job id" in malformed["message"]
    error = reader.error(CHECK, {"c": 10, "p": 0, "r": False})
    assert error["extensions"]["code"] == "FORBIDDEN"
    error = curator.error(CHECK, {"c": 0, "p": 0, "r": False})
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and "chunkSize" in error["message"]
    async with GraphQLWebSocket(server.url, tokens["READER"]) as ws:
        await ws.subscribe(PROGRESS, {"id": "424242"})
        kind, message = await ws.receive()
        assert kind in ("next", "error"), message
        assert "no job with id" in str(message["payload"])
    for job_id in ids:  # leave nothing running for the next test
        async with GraphQLWebSocket(server.url, tokens["READER"]) as ws:
            await ws.subscribe(PROGRESS, {"id": job_id})
            assert _statuses(await ws.results())[-1] == "SUCCEEDED"


async def test_repair_fixes_tags_that_are_not_a_set(
    server: Server, curator: GraphQLClient, tokens: dict[str, str], db: asyncpg.Connection
) -> None:
    # Written straight into the table, past the API that would keep each a sorted set.
    await db.execute(
        "INSERT INTO examples (execution_id, user_request) VALUES ('ok', 'r'), ('unsorted', 'r'), ('blank', 'r')"
    )
    await db.execute(
        """INSERT INTO example_tags (example_id, tags)
           SELECT id, CASE execution_id WHEN 'ok' THEN ARRAY['a', 'b'] WHEN 'unsorted' THEN ARRAY['b', 'a', 'a']
                                        ELSE ARRAY[' ', 'x'] END FROM examples"""
    )
    job_id = _start(curator, chunk=2, pause_ms=0, repair=True)
    async with GraphQLWebSocket(server.url, tokens["READER"]) as ws:
        await ws.subscribe(PROGRESS, {"id": job_id})
        final = (await ws.results())[-1]["jobProgress"]
    assert final["status"] == "SUCCEEDED"
    assert final["result"] == {
        "examined": 3, "tagsNotNormalized": 2, "blankTags": 1, "overlongTags": 0, "repaired": 2,
        "contentProblems": 0, "problems": [], "complete": True,
    }  # fmt: skip
    rows = dict(await db.fetch("SELECT execution_id, tags FROM example_rows"))
    assert rows == {"ok": ["a", "b"], "unsorted": ["a", "b"], "blank": ["x"]}


async def test_many_subscribers_share_renderings_yet_each_gets_its_own_query_and_ids(
    server: Server, curator: GraphQLClient, tokens: dict[str, str], db: asyncpg.Connection
) -> None:
    # The server renders each change once per distinct query and sends those bytes to every subscriber
    # asking it: the ids, the protocol's message type and each query's own fields must still be right.
    await _seed(db, 200)
    job_id = _start(curator, chunk=20, pause_ms=60)
    aliased = "subscription($id: ID!) { jobProgress(id: $id) { s: status p: progress } }"

    async def watch(protocol: str, queries: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
        seen: dict[str, list[dict[str, Any]]] = {op: [] for op in queries}
        async with GraphQLWebSocket(server.url, tokens["READER"], protocol) as ws:
            for op, query in queries.items():
                await ws.subscribe(query, {"id": job_id}, op_id=op)
            done: set[str] = set()
            while done != set(queries):
                frame = await asyncio.wait_for(ws.socket.recv(), 15)
                assert isinstance(frame, str), "text frames: browser clients cannot parse binary ones"
                message = orjson.loads(frame)
                if message["type"] == "complete":
                    done.add(message["id"])
                elif message["type"] in ("next", "data"):
                    assert message["id"] not in done and "errors" not in message["payload"], message
                    seen[message["id"]].append(message["payload"]["data"]["jobProgress"])
        return seen

    plain = {"a": PROGRESS, "b": PROGRESS, "c": aliased}
    watchers = [watch(p, plain) for p in WS_PROTOCOLS for _ in range(3)]
    results = [seen for found in await asyncio.gather(*watchers) for seen in found.items()]

    def state(op: str, e: dict[str, Any]) -> tuple[str, float]:
        return (e["s"], e["p"]) if op == "c" else (e["status"], e["progress"])

    for op, seen in results:
        statuses, progress = zip(*(state(op, e) for e in seen), strict=True)
        assert statuses[-1] == "SUCCEEDED" and statuses.count("SUCCEEDED") == 1
        assert list(progress) == sorted(progress) and len(seen) >= 5
        if op == "c":
            assert all(set(e) == {"s", "p"} for e in seen)
        else:
            assert all(set(e) == {"id", "status", "progress", "message", "attempts", "result"} for e in seen)
            assert seen[-1]["id"] == job_id and seen[-1]["result"]["examined"] == 200
    # All joined together: past the first few messages they saw the same changes.
    tails = {tuple(state(op, e) for e in seen[-3:]) for op, seen in results}
    assert len(tails) == 1, tails
    assert next(seen for op, seen in results if op == "c")[-1] == {"s": "SUCCEEDED", "p": 1.0}
