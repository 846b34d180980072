"""The access log (never the token), JSON logs, and /healthz answering states whose details only the log has."""

from __future__ import annotations

import asyncio
import io
import logging
import time
from collections.abc import Iterator

import httpx
import orjson
import pytest
from redis.asyncio import Redis

from tests.support import GraphQLClient, GraphQLWebSocket, Server, free_port
from tuneyard.cli import build_parser
from tuneyard.server.health import Health
from tuneyard.server.logs import FLUSH_SECONDS, BufferedHandler


@pytest.fixture(scope="module")
def json_logged(env: dict[str, str]) -> Iterator[Server]:
    running = Server({**env, "TUNEYARD_LOG_FORMAT": "json", "TUNEYARD_SERVE_WORKERS": "0"})
    running.start()
    yield running
    running.stop()


def _access_lines(server: Server) -> list[dict[str, object]]:
    lines = [orjson.loads(line) for line in server.logs().splitlines() if line.startswith("{")]
    return [line for line in lines if line["logger"] == "tuneyard.access"]


async def test_every_request_is_logged_with_its_token_name_and_never_the_token(
    json_logged: Server, tokens: dict[str, str]
) -> None:
    reader = GraphQLClient(json_logged.url, tokens["READER"])
    assert reader.data("{ __typename }") == {"__typename": "Query"}
    assert reader.http.get("/graphql", params={"query": "{ __typename }", "variables": "{}"}).status_code == 200
    async with httpx.AsyncClient(base_url=json_logged.url) as anonymous:
        assert (await anonymous.get("/exports/7", headers={"Authorization": "Bearer ty_wrong"})).status_code == 401
        async with GraphQLWebSocket(json_logged.url, tokens["READER"]) as ws:
            await ws.subscribe("subscription { jobUpdates { id } }")
            await ws.stop()
        assert (await anonymous.get("/healthz")).status_code == 200
    await asyncio.sleep(0.5)  # the WebSocket's line is written when the server has closed it
    logged = [
        {k: v for k, v in line.items() if k in ("method", "path", "status", "token")}
        for line in _access_lines(json_logged)
    ]
    assert logged[-4:] == [
        {"method": "POST", "path": "/graphql", "status": 200, "token": "test READER"},
        {"method": "GET", "path": "/graphql", "status": 200, "token": "test READER"},
        {"method": "GET", "path": "/exports/7", "status": 401, "token": "-"},
        {"method": "WS", "path": "/graphql", "status": 101, "token": "test READER"},
    ], "the query string is not logged, and healthy /healthz polls are not either"
    assert all(
        isinstance(line["duration_ms"], float) and line["level"] == "INFO" for line in _access_lines(json_logged)
    )
    everything = json_logged.logs()
    assert all(token not in everything for token in tokens.values()) and "ty_wrong" not in everything


def test_the_log_format_is_an_option_of_serve() -> None:
    assert build_parser().parse_args(["serve", "--log-format", "json"]).log_format == "json"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--log-format", "xml"])


async def test_healthz_reports_states_and_logs_the_details_once(caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()  # nothing listens there
    redis = Redis(host="127.0.0.1", port=port, socket_connect_timeout=1)
    health = Health(f"postgresql://postgres@127.0.0.1:{port}/nothing", redis)
    with caplog.at_level(logging.WARNING, logger="tuneyard.health"):
        health.start()
        first = await health.report()
        await asyncio.sleep(1.5)  # a second probe, which finds the same outage
        second = await health.report()
        await health.close()
        await redis.aclose()
    assert first == second == {"status": "degraded", "database": "unavailable", "redis": "unavailable"}
    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == 2, warnings  # one per service, however many probes failed
    assert f"127.0.0.1', {port}" in warnings[0] and warnings[1].startswith("healthz: redis unavailable: ")


def test_buffered_log_lines_are_written_within_the_interval_and_warnings_at_once() -> None:
    written = io.BytesIO()
    stream = io.TextIOWrapper(io.BufferedWriter(written, 64 * 1024), encoding="utf-8")  # type: ignore[arg-type]
    handler = BufferedHandler(stream)
    logger = logging.getLogger("tuneyard.test.buffered")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        logger.warning("at once")
        assert written.getvalue() == b"at once\n"
        logger.info("in a block")
        logger.error("also at once")  # and what was buffered before it goes with it
        assert written.getvalue() == b"at once\nin a block\nalso at once\n"
        logger.info("later")
        assert b"later" not in written.getvalue()
        time.sleep(FLUSH_SECONDS * 3)
        assert written.getvalue().endswith(b"later\n")
    finally:
        logger.removeHandler(handler)
