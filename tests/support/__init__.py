"""Helpers for tests: a running Tuneyard server process and a GraphQL client for it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def tuneyard(*args: str, env: dict[str, str], timeout: float = 60) -> str:
    """Run the CLI as a user would; its stdout."""
    done = subprocess.run(
        [sys.executable, "-m", "tuneyard.cli", *args],
        env=env, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


# Job timings short enough for tests to see a lost worker's job retried within seconds.
JOB_TEST_SETTINGS = {
    "TUNEYARD_JOB_HEARTBEAT_SECONDS": "0.3",
    "TUNEYARD_JOB_STALE_SECONDS": "2.5",
    "TUNEYARD_JOB_REAP_SECONDS": "0.5",
}


def service_env(database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNEYARD_")}
    env.update(TUNEYARD_DATABASE_URL=database_url, TUNEYARD_REDIS_URL=redis_url, **extra)
    return env


@dataclass
class Server:
    """`tuneyard serve` in a child process."""

    env: dict[str, str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[str] | None = None
    # Its stdout and stderr go to a file, never a pipe: nobody reads a pipe while tests run, and a full one would
    # stall the server at its next log line (it logs one per request).
    output: Any = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> None:
        self.output = tempfile.TemporaryFile("w+")  # noqa: SIM115 (it lives as long as the server; stop() closes it)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tuneyard.cli", "serve", "--port", str(self.port)],
            env=self.env, stdout=self.output, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.logs()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code in (200, 503):
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)
        if self.output is not None:
            self.output.close()

    def logs(self) -> str:
        """Everything the server has written so far (stdout and stderr)."""
        self.output.seek(0)
        text: str = self.output.read()
        return text


class GraphQLClient:
    def __init__(self, url: str, token: str | None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=url, headers=headers, timeout=60)

    def post(self, query: str, variables: dict[str, Any] | None = None) -> httpx.Response:
        return self.http.post("/graphql", json={"query": query, "variables": variables or {}})

    def execute(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The full response body (data and errors; a 503 carries those of a request that failed for an outage)."""
        response = self.post(query, variables)
        assert response.status_code in (200, 503), response.text
        body: dict[str, Any] = response.json()
        return body

    def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The data of a query that must succeed."""
        body = self.execute(query, variables)
        assert "errors" not in body, body["errors"]
        result: dict[str, Any] = body["data"]
        return result

    def error(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The first error of a query that must fail."""
        body = self.execute(query, variables)
        assert body.get("errors"), body
        first: dict[str, Any] = body["errors"][0]
        return first

    def finished_job(self, query: str, job_id: str, timeout: float) -> dict[str, Any]:
        """The job (as `query`, taking $id, selects it) once it has ended; AssertionError after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        job: dict[str, Any] = {}
        while time.monotonic() < deadline:
            job = self.data(query, {"id": job_id})["job"]
            if job["status"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
                return job
            time.sleep(0.1)
        raise AssertionError(f"job {job_id} did not finish within {timeout:g} s: {job}")


# The mutation every API test records examples with.
RECORD = """
mutation Record($examples: [ExampleInput!]!) {
  recordExamples(examples: $examples) { inserted updated unchanged }
}"""


WS_PROTOCOLS = ("graphql-transport-ws", "graphql-ws")


class GraphQLWebSocket:
    """A GraphQL WebSocket client for either protocol: the modern graphql-transport-ws or legacy graphql-ws."""

    def __init__(self, url: str, token: str | None, protocol: str = "graphql-transport-ws") -> None:
        self.url = url.replace("http://", "ws://", 1) + "/graphql"
        self.token = token
        self.protocol = protocol
        self.socket: Any = None

    async def __aenter__(self) -> GraphQLWebSocket:
        import websockets

        self.socket = await websockets.connect(self.url, subprotocols=[self.protocol], max_size=None)  # type: ignore[list-item]
        payload = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        await self._send({"type": "connection_init", "payload": payload})
        kind, body = await self.receive(wait=10)
        assert kind == "connection_ack", (kind, body)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.socket.close()

    async def _send(self, message: dict[str, Any]) -> None:
        import orjson

        await self.socket.send(orjson.dumps(message).decode())

    async def subscribe(self, query: str, variables: dict[str, Any] | None = None, op_id: str = "1") -> None:
        kind = "subscribe" if self.protocol == "graphql-transport-ws" else "start"
        await self._send({"id": op_id, "type": kind, "payload": {"query": query, "variables": variables or {}}})

    async def stop(self, op_id: str = "1") -> None:
        await self._send({"id": op_id, "type": "complete" if self.protocol == "graphql-transport-ws" else "stop"})

    async def receive(self, wait: float = 15) -> tuple[str, Any]:
        """(type, message) with both protocols' names made the same: next, complete, error, connection_ack."""
        import asyncio

        import orjson

        while True:
            message = orjson.loads(await asyncio.wait_for(self.socket.recv(), wait))
            kind = message["type"]
            if kind in ("ka", "pong"):
                continue
            if kind == "ping":
                await self._send({"type": "pong"})
                continue
            return ("next" if kind == "data" else kind), message

    async def results(self, wait: float = 15) -> list[dict[str, Any]]:
        """Every `data` until the operation completes; fails on an error."""
        found = []
        while True:
            kind, message = await self.receive(wait)
            if kind == "complete":
                return found
            assert kind == "next" and "errors" not in message["payload"], message
            found.append(message["payload"]["data"])
