"""Jobs across processes: two API servers sharing progress, and Redis going away and coming back."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import psutil
import pytest

from tests.support import GraphQLClient, GraphQLWebSocket, Server
from tuneyard.embedded import EmbeddedRedis

CHECK = "mutation { checkExamples(chunkSize: 10, pauseMs: 40) { id } }"
PROGRESS = "subscription($id: ID!) { jobProgress(id: $id) { status progress message } }"
UPDATES = "subscription { jobUpdates { id status } }"


@pytest.fixture
def second_server(env: dict[str, str]) -> Iterator[Server]:
    """Another API process on the same database and Redis, without a worker of its own."""
    running = Server({**env, "TUNEYARD_SERVE_WORKERS": "0"})
    running.start()
    yield running
    running.stop()


async def test_two_servers_each_deliver_the_same_progress_to_their_own_subscribers(
    server: Server, second_server: Server, curator: GraphQLClient, tokens: dict[str, str], db: asyncpg.Connection
) -> None:
    await db.execute(
        "INSERT INTO examples (execution_id, user_request) SELECT 'two-' || i, 'r' FROM generate_series(1, 150) i"
    )
    job_id = curator.data(CHECK)["checkExamples"]["id"]

    async def watch(url: str) -> list[tuple[str, float]]:
        async with GraphQLWebSocket(url, tokens["READER"]) as ws:
            await ws.subscribe(PROGRESS, {"id": job_id})
            return [(e["jobProgress"]["status"], e["jobProgress"]["progress"]) for e in await ws.results()]

    first, second = await asyncio.gather(watch(server.url), watch(second_server.url))
    for seen in (first, second):
        assert seen[-1] == ("SUCCEEDED", 1.0)
        assert len(seen) >= 5 and [p for _, p in seen] == sorted(p for _, p in seen)
    # Both joined at the same moment, so from the first RUNNING event on they saw the same changes.
    assert [e for e in first if e[0] != "QUEUED"][-5:] == [e for e in second if e[0] != "QUEUED"][-5:]


async def test_redis_stopped_and_restarted(
    env: dict[str, str], tokens: dict[str, str], db: asyncpg.Connection, tmp_path: Path
) -> None:
    redis = EmbeddedRedis(tmp_path / "redis")
    redis.start()
    server = Server(
        {**env, "TUNEYARD_REDIS_URL": redis.url, "TUNEYARD_QUEUE_NAMESPACE": f"down-{uuid.uuid4().hex[:8]}"}
    )
    try:
        server.start()
        assert server.process is not None
        curator = GraphQLClient(server.url, tokens["CURATOR"])
        before = curator.data("{ jobs { totalCount } }")["jobs"]["totalCount"]
        async with GraphQLWebSocket(server.url, tokens["READER"]) as ws:
            await ws.subscribe(UPDATES)
            await asyncio.sleep(0.2)
            redis.stop()
            kind, message = await ws.receive(wait=10)
        # The live stream ends with a clear error (the protocol's `error`, which ends it) instead of hanging.
        assert kind == "error", message
        assert message["payload"][0]["extensions"]["code"] == "UNAVAILABLE", message
        assert "Redis" in message["payload"][0]["message"], message
        # Reads keep working; starting a job fails clearly and leaves no row behind.
        assert curator.data("{ jobs { totalCount } }")["jobs"]["totalCount"] == before
        error = curator.error(CHECK)
        assert error["extensions"]["code"] == "UNAVAILABLE" and "Redis" in error["message"], error
        assert curator.data("{ jobs { totalCount } }")["jobs"]["totalCount"] == before
        async with GraphQLWebSocket(server.url, tokens["READER"]) as ws:
            await ws.subscribe(UPDATES)
            kind, message = await ws.receive(wait=10)
            assert "Redis" in str(message["payload"]), message

        redis.start()  # on the same port: the server's URL still points there
        deadline = time.monotonic() + 20
        while True:  # the server's listener and the worker reconnect on their own
            assert time.monotonic() < deadline, "the server did not recover after Redis came back"
            async with GraphQLWebSocket(server.url, tokens["READER"]) as ws:
                await ws.subscribe(UPDATES)
                try:
                    await ws.receive(wait=0.5)
                except TimeoutError:
                    break  # open and quietly waiting for changes: live updates are back
            await asyncio.sleep(0.2)
        found = curator.execute(CHECK)
        assert "errors" not in found, found
        job_id = found["data"]["checkExamples"]["id"]
        async with GraphQLWebSocket(server.url, tokens["READER"]) as ws:
            await ws.subscribe(PROGRESS, {"id": job_id})
            seen = await ws.results(wait=30)
        assert seen[-1]["jobProgress"]["status"] == "SUCCEEDED"

        workers = [p for p in psutil.Process(server.process.pid).children() if "worker" in " ".join(p.cmdline())]
        assert workers
    finally:
        server.stop()
        redis.stop()
    _, alive = psutil.wait_procs(workers, timeout=5)
    assert not alive, "stopping serve stops its worker"
