"""PostgreSQL killed under a running server and its worker: UNAVAILABLE (503) and one log line per process, then
recovery without a restart: requests succeed, and the same worker runs jobs again."""

from __future__ import annotations

from collections.abc import Callable

from tests.faults.conftest import LoggedServer, kill, wait_for, workers_of
from tests.support import RECORD, GraphQLClient
from tuneyard.embedded import EmbeddedPostgres

PAGE = "{ examples(first: 5) { nodes { executionId } } }"
JOB = "query($id: ID!) { job(id: $id) { status } }"


def test_database_outage_is_unavailable_then_recovers(
    postgres: EmbeddedPostgres, redis_url: str, start_server: Callable[..., LoggedServer]
) -> None:
    server = start_server(postgres.url, redis_url, workers=1)
    token = server.token()
    curator = GraphQLClient(server.url, token)
    curator.data(RECORD, {"examples": [{"executionId": "before", "userRequest": "recorded before the outage"}]})

    wait_for(lambda: "worker ready" in server.output(), "the worker to start", 60)
    worker = workers_of(server)
    kill(postgres.pid, "PostgreSQL")
    wait_for(lambda: postgres.pid is None, "PostgreSQL to die")
    for query, variables in [(PAGE, None), (RECORD, {"examples": [{"executionId": "during", "userRequest": "x"}]})] * 5:
        response = curator.post(query, variables)
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"] == "1"
        error = response.json()["errors"][0]
        assert error["extensions"]["code"] == "UNAVAILABLE", error
        assert error["extensions"].get("retryable") is True, error
        assert "database" in error["message"]
    wait_for(lambda: curator.http.get("/healthz").status_code == 503, "/healthz to report the outage", 10)

    postgres.restart()
    recovered = wait_for(lambda: curator.post(PAGE).status_code == 200, "requests to succeed again")
    assert recovered and server.running(), "the server recovered without a restart"
    curator.data(RECORD, {"examples": [{"executionId": "after", "userRequest": "recorded after the outage"}]})
    nodes = curator.data(PAGE)["examples"]["nodes"]
    assert {n["executionId"] for n in nodes} == {"before", "after"}

    job = curator.data("mutation { checkExamples { id } }")["checkExamples"]["id"]
    finished = wait_for(lambda: (j := curator.data(JOB, {"id": job})["job"])["status"] == "SUCCEEDED" and j, "a job")
    assert finished and workers_of(server) == worker, "the worker that lived through the outage ran it"

    wait_for(lambda: "database is back" in server.output(), "the recovery to be logged", 10)
    log = server.output()
    assert log.count("tuneyard.outages: database unavailable") == 2, (
        log
    )  # one line from the server, one from its worker
    assert "Traceback" not in log, log
    assert "INTERNAL_SERVER_ERROR" not in log
