"""A Tuneyard server of these tests' own (to stop and start again), and helpers to wait and to read what it stored."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.support import Server
from tuneyard.client import Execution

# Test settings: partial batches go at once and retries come quickly, so that a test waits for little.
FAST = {"flush_interval": 0.02, "max_backoff": 0.5}


@pytest.fixture(scope="session")
def own_server(env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A second API server on the session's database (no worker), which tests stop and start again."""
    running = Server({**env, "TUNEYARD_HOME": str(tmp_path_factory.mktemp("own-home")), "TUNEYARD_SERVE_WORKERS": "0"})
    running.start()
    yield running
    running.stop()


@contextmanager
def server_away(server: Server) -> Iterator[None]:
    """The server stopped for the block, then started again on the same port, whatever happens in it."""
    server.stop()
    try:
        yield
    finally:
        server.start()


def unique() -> str:
    return f"client-{uuid.uuid4().hex[:10]}"


def sample(prefix: str, i: int, **changes: Any) -> Execution:
    values: dict[str, Any] = {
        "execution_id": f"{prefix}-{i}",
        "user_request": f"Write post {i} about the launch",
        "intent": "create_content",
        "quality_score": (i % 101) / 100,
        "success": i % 3 != 0,
        "business_state": {"followers": i, "nested": {"ok": True}},
        "tags": ["client", f"t{i % 5}"],
        "model_id": f"ft:gpt-4.1-mini:acme:planner:{i % 3}",
    }
    return Execution(**{**values, **changes})


def content(execution: Execution) -> tuple[Any, ...]:
    """What the database must hold for an execution."""
    tags = sorted(set(execution.tags or ()))
    return execution.user_request, execution.quality_score, execution.business_state, tags, execution.model_id


async def stored(database_url: str, prefix: str) -> dict[str, tuple[Any, ...]]:
    """executionId -> content of every example whose executionId starts with `prefix`, read with SQL."""
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch(
            "SELECT execution_id, user_request, quality_score, business_state, tags, model_id FROM example_rows"
            " WHERE starts_with(execution_id, $1)",
            prefix,
        )
    finally:
        await connection.close()
    found = {}
    for row in rows:
        state = None if row["business_state"] is None else json.loads(row["business_state"])
        found[row["execution_id"]] = (row["user_request"], row["quality_score"], state, row["tags"], row["model_id"])
    assert len(found) == len(rows)  # each executionId once
    return found


def expected(executions: list[Execution]) -> dict[str, tuple[Any, ...]]:
    """executionId -> content, the last record of each execution winning."""
    return {execution.execution_id: content(execution) for execution in executions}


def eventually(check: Callable[[], bool], timeout: float = 90) -> None:
    """Wait for a condition that the client reaches in the background (the limit only ends a hung test)."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.02)


async def eventually_async(check: Callable[[], bool]) -> None:
    """eventually(), for a test on the event loop that the client runs on."""
    async with asyncio.timeout(90):
        while True:
            if check():
                return
            await asyncio.sleep(0.02)  # polling: the condition is the client's, on this loop, with no event to await


class AnswerDropper:
    """A TCP proxy in front of a server that cuts the connection instead of passing on the answers to the first
    `drop` requests: the server did the work, the client never hears so (the ambiguous failure)."""

    def __init__(self, port: int, drop: int) -> None:
        self.port = port
        self.drop = drop
        self.dropped = 0
        self.url = ""
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> AnswerDropper:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()

    async def _serve(self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter) -> None:
        server_in, server_out = await asyncio.open_connection("127.0.0.1", self.port)

        async def requests() -> None:
            while data := await client_in.read(65536):
                server_out.write(data)
                await server_out.drain()

        async def answers() -> None:
            while data := await server_in.read(65536):
                if self.drop > self.dropped:
                    self.dropped += 1
                    break
                client_out.write(data)
                await client_out.drain()
            client_out.close()
            server_out.close()

        await asyncio.gather(requests(), answers(), return_exceptions=True)


def write_spool(folder: Path, executions: list[Execution]) -> list[str]:
    """The spool a killed client leaves: one ExampleInput a line. Returns the lines."""
    lines = [json.dumps(execution.to_input()) + "\n" for execution in executions]
    Path(folder, "pending.jsonl").write_text("".join(lines))
    return lines


def spool_size(folder: Path) -> int:
    return Path(folder, "pending.jsonl").stat().st_size


def rejected(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(folder, "rejected.jsonl").read_text().splitlines()]
