"""Redis killed under a running server and a worker: open subscriptions end with UNAVAILABLE, jobs cannot start
(503), one log line per process; Redis back: the listener and the worker reconnect, jobs start, stream and run
again, without a restart."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.faults.conftest import LoggedServer, kill, start_worker, wait_for
from tests.support import RECORD, GraphQLClient, GraphQLWebSocket
from tuneyard.embedded import EmbeddedRedis

CHECK = "mutation { checkExamples { id status } }"
CANCEL = "mutation($id: ID!) { cancelJob(id: $id) { id status } }"
PROGRESS = "subscription($id: ID!) { jobProgress(id: $id) { id status } }"
UPDATES = "subscription { jobUpdates { id status } }"
CREATE = 'mutation { createDataset(input: {name: "redis-outage", where: {}}) { id } }'
EXPORT = "mutation($id: ID!) { exportDataset(id: $id, format: RAW) { id } }"


def start_job(curator: GraphQLClient) -> str:
    job_id: str = curator.data(CHECK)["checkExamples"]["id"]
    return job_id


async def ends_unavailable(socket: GraphQLWebSocket, op_ids: set[str]) -> None:
    """Each of the operations ends with an `error` coded UNAVAILABLE (not `next` + `complete`: a normal end)."""
    ended: dict[str, Any] = {}
    while set(ended) != op_ids:
        kind, message = await socket.receive(wait=20)
        if kind == "next" and "errors" not in message["payload"]:
            continue  # a change that came before the outage
        assert kind == "error", message
        ended[message["id"]] = message["payload"]
    for op_id, errors in ended.items():
        assert errors[0]["extensions"]["code"] == "UNAVAILABLE", (op_id, errors)


async def test_redis_outage_ends_subscriptions_then_recovers(
    database_url: str, own_redis: EmbeddedRedis, start_server: Callable[[str, str], LoggedServer], tmp_path: Path
) -> None:
    server = start_server(database_url, own_redis.url)
    worker_log = tmp_path / "worker.log"
    # Exports only: the maintenance jobs below stay QUEUED, so their subscriptions are open when Redis dies.
    worker = start_worker(server.env, worker_log, "export")
    token = server.token()
    try:
        await _outage_and_recovery(server, own_redis, token)
        await _export(GraphQLClient(server.url, token))
        assert worker.poll() is None, "the worker lived through the outage"
    finally:
        worker.terminate()
        worker.wait(30)
    log = worker_log.read_text()
    assert log.count("tuneyard.outages: redis unavailable") == 1, log
    assert "redis is back" in log and "Consumer encountered" not in log and "Traceback" not in log, log


async def _export(curator: GraphQLClient) -> None:
    """An EXPORT job, run to its end by the worker that lived through the outage."""
    curator.data(RECORD, {"examples": [{"executionId": f"redis-{i}", "userRequest": f"r {i}"} for i in range(10)]})
    dataset = curator.data(CREATE)["createDataset"]["id"]
    job = curator.data(EXPORT, {"id": dataset})["exportDataset"]["id"]
    status = "query($id: ID!) { job(id: $id) { status } }"
    wait_for(lambda: curator.data(status, {"id": job})["job"]["status"] == "SUCCEEDED", "the export to succeed", 60)


async def _outage_and_recovery(server: LoggedServer, own_redis: EmbeddedRedis, token: str) -> None:
    curator = GraphQLClient(server.url, token)
    job_id = start_job(curator)
    async with GraphQLWebSocket(server.url, token) as socket:
        await socket.subscribe(PROGRESS, {"id": job_id}, op_id="progress")
        kind, first = await socket.receive()
        assert kind == "next" and first["payload"]["data"]["jobProgress"]["status"] == "QUEUED", first
        await socket.subscribe(UPDATES, op_id="updates")
        curator.data(CANCEL, {"id": start_job(curator)})  # jobUpdates is live once it sees this change
        kind, change = await socket.receive()
        assert kind == "next" and change["id"] == "updates", change

        kill(own_redis.pid, "Redis")
        await ends_unavailable(socket, {"progress", "updates"})
        with pytest.raises(TimeoutError):  # nothing follows an `error`: no `complete`
            await socket.receive(wait=1)

    for _ in range(3):
        response = curator.post(CHECK)
        assert response.status_code == 503, response.text
        assert response.json()["errors"][0]["extensions"] == {"code": "UNAVAILABLE", "retryable": True}

    own_redis.restart()
    wait_for(lambda: curator.post(CHECK).status_code == 200, "jobs to start again")
    listening = "listening for job changes"
    wait_for(lambda: server.output().count(listening) == 2, "the progress listener to reconnect", 10)
    job_id = start_job(curator)
    async with GraphQLWebSocket(server.url, token) as socket:
        await socket.subscribe(PROGRESS, {"id": job_id}, op_id="progress")
        assert (await socket.receive())[1]["payload"]["data"]["jobProgress"]["status"] == "QUEUED"
        curator.data(CANCEL, {"id": job_id})
        kind, message = await socket.receive()
        assert message["payload"]["data"]["jobProgress"]["status"] == "CANCELLED", message
    assert server.running()

    wait_for(lambda: "redis is back" in server.output(), "the recovery to be logged", 10)
    log = server.output()
    assert log.count("tuneyard.outages: redis unavailable") == 1, log
    assert "cannot send job" not in log and "could not be announced" not in log, log  # no line per request
    assert "Traceback" not in log, log
