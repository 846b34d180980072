"""Load on one server: sequential requests on one connection (latency), and N keep-alive connections sending
back to back (throughput), with the CPU that the server, PostgreSQL and the load generator used meanwhile."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from bench.peer import proc
from bench.peer.client import Connection, Endpoint, GraphQLError
from bench.peer.database_cpu import DatabaseCPU


async def latencies(endpoint: Endpoint, request: bytes, count: int, seconds: float) -> list[float]:
    """Milliseconds per request, one after another on one connection: `count` of them, or as many as fit in
    `seconds` (at least 10)."""
    samples: list[float] = []
    async with Connection(endpoint) as connection:
        deadline = time.perf_counter() + seconds
        while len(samples) < count and (len(samples) < 10 or time.perf_counter() < deadline):
            started = time.perf_counter()
            _ok(endpoint, *await connection.send(request))
            samples.append((time.perf_counter() - started) * 1000)
    return samples


# A loaded phase counts at least this many requests, however long they take (the stats count on a million rows takes
# seconds each at 16 connections): fewer would make req/s and CPU per request a matter of which ones happen to end
# inside the window.
MIN_REQUESTS = 32


@dataclass(frozen=True)
class Throughput:
    """A loaded phase: its requests per second; CPU per request (seconds) of the server and of PostgreSQL; the share
    of its core that the server used (near 1.0: the server is the bottleneck) and that the load generator used."""

    requests_per_s: float
    server_cpu: float
    database_cpu: float | None
    server_busy: float
    client_busy: float


class Load:
    """`connections` connections sending `request` back to back until stopped."""

    def __init__(self, endpoint: Endpoint, request: bytes, connections: int) -> None:
        self.endpoint, self.request, self.connections = endpoint, request, connections
        self.completed = 0
        self.stopping = False
        self.tasks: list[asyncio.Task[None]] = []

    async def _send_until_stopped(self) -> None:
        async with Connection(self.endpoint) as connection:
            while not self.stopping:
                _ok(self.endpoint, *await connection.send(self.request))
                self.completed += 1

    def start(self) -> None:
        self.tasks = [asyncio.create_task(self._send_until_stopped()) for _ in range(self.connections)]

    async def stop(self) -> None:
        self.stopping = True
        await asyncio.gather(*self.tasks)

    def check(self) -> None:
        """Raise the first failure of a connection, if any (the others carry on until then)."""
        for task in self.tasks:
            if task.done() and (error := task.exception()) is not None:
                raise error


async def throughput(
    endpoint: Endpoint, request: bytes, connections: int, warmup: float, seconds: float, database: DatabaseCPU | None
) -> Throughput:
    """Measure a loaded phase of `seconds` (or MIN_REQUESTS requests, if longer), after `warmup` seconds of the same
    load and at least one request done per connection (pools full, caches warm, every connection in its cycle)."""
    load = Load(endpoint, request, connections)
    load.start()
    try:
        await asyncio.sleep(warmup)
        await _until(load, lambda: load.completed >= connections)
        if database is not None:
            await database.begin()
        started, done = time.perf_counter(), load.completed
        server, client = proc.cpu_seconds(endpoint.pid), time.process_time()
        await asyncio.sleep(seconds)
        await _until(load, lambda: load.completed - done >= MIN_REQUESTS)
        elapsed, requests = time.perf_counter() - started, load.completed - done
        server_cpu, client_cpu = proc.cpu_seconds(endpoint.pid) - server, time.process_time() - client
        database_cpu = None if database is None else await database.end()
        load.check()
    finally:
        if database is not None:
            database.close()
        await load.stop()
    return Throughput(
        requests / elapsed, server_cpu / requests, None if database_cpu is None else database_cpu / requests,
        server_cpu / elapsed, client_cpu / elapsed,
    )  # fmt: skip


async def _until(load: Load, condition: Callable[[], bool]) -> None:
    while not condition():
        load.check()
        await asyncio.sleep(0.02)


def _ok(endpoint: Endpoint, status: int, body: bytes) -> None:
    # A substring test keeps the check cheap; the row check has already parsed these answers in full.
    if status != 200 or b'"errors"' in body:
        raise GraphQLError(f"{endpoint.name} answered {status} under load: {body[:2000]!r}")
