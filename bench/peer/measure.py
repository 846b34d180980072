"""Interleaved rounds: in each, every query is measured on both servers (which one goes first alternates by round),
each phase a latency run on one connection then a loaded run on N connections, server and client pinned apart."""

from __future__ import annotations

import asyncio
import os
import statistics
from dataclasses import dataclass, field

import asyncpg

from bench.common import percentile
from bench.peer import proc
from bench.peer.client import Endpoint
from bench.peer.database_cpu import DatabaseCPU
from bench.peer.load import Load, latencies, throughput
from bench.peer.postgraphile import libpq_env
from bench.peer.rowcheck import Measured

WARMUP_S = 2.0  # each query on each server, once, before the first round (JIT, caches, pools)
PHASE_WARMUP_S = 1.0  # before each loaded phase: pools refilled, connections accepted


@dataclass(frozen=True)
class Options:
    rounds: int
    seconds: float
    requests: int
    connections: int


@dataclass(frozen=True)
class Sample:
    """One query on one server in one round."""

    p50_ms: float
    p99_ms: float
    requests_per_s: float
    server_us: float  # server CPU per request
    database_us: float | None  # PostgreSQL CPU per request; None over a unix socket (not measured)
    server_busy: float  # share of its core the server used in the loaded phase
    client_busy: float  # share of its core the load generator used in the loaded phase


@dataclass
class Results:
    """Samples by query label, then by server name, one per round; the load averages seen along the way."""

    samples: dict[str, dict[str, list[Sample]]] = field(default_factory=dict)
    load_averages: list[float] = field(default_factory=list)


def pin_apart(servers: list[Endpoint]) -> tuple[int, int]:
    """The servers on one core, this process (the load generator) on another; PostgreSQL stays free. The cores."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        raise SystemExit("bench.peer needs two cores: one for the server measured, one for the load generator")
    server_core, client_core = cores[0], cores[1]
    for server in servers:
        proc.pin(server.pid, {server_core})
    proc.pin(os.getpid(), {client_core})
    return server_core, client_core


async def measure(
    tuneyard: Endpoint, peer: Endpoint, queries: list[Measured], database_url: str, options: Options
) -> Results:
    results = Results({q.label: {tuneyard.name: [], peer.name: []} for q in queries})
    observer = await asyncpg.connect(database_url)
    try:
        meters = {s.name: await _database_cpu(observer, database_url, s) for s in (tuneyard, peer)}
        for query in queries:
            for server, payload in ((tuneyard, query.tuneyard), (peer, query.peer)):
                load = Load(server, server.request(payload), options.connections)
                load.start()
                await asyncio.sleep(WARMUP_S)
                await load.stop()
        for round_number in range(options.rounds):
            for query in queries:
                pairs = [(tuneyard, query.tuneyard), (peer, query.peer)]
                line = []
                for server, payload in pairs if round_number % 2 == 0 else reversed(pairs):
                    results.load_averages.append(os.getloadavg()[0])
                    sample = await _sample(server, server.request(payload), meters[server.name], options)
                    results.samples[query.label][server.name].append(sample)
                    line.append(f"{server.name} {_brief(sample)}")
                print(f"round {round_number + 1}/{options.rounds} {query.label}: {' | '.join(line)}", flush=True)
    finally:
        await observer.close()
    return results


async def _database_cpu(observer: asyncpg.Connection, database_url: str, server: Endpoint) -> DatabaseCPU | None:
    """The meter of the server's database CPU; None over a unix socket, where no client port names a backend."""
    settings = libpq_env(database_url)
    if settings.get("PGHOST", "/").startswith("/"):
        return None
    return await DatabaseCPU.of(observer, database_url, server.pid, int(settings.get("PGPORT", "5432")))


async def _sample(server: Endpoint, request: bytes, database: DatabaseCPU | None, options: Options) -> Sample:
    times = await latencies(server, request, options.requests, options.seconds)
    loaded = await throughput(server, request, options.connections, PHASE_WARMUP_S, options.seconds, database)
    return Sample(
        statistics.median(times), percentile(times, 99), loaded.requests_per_s, loaded.server_cpu * 1e6,
        None if loaded.database_cpu is None else loaded.database_cpu * 1e6, loaded.server_busy, loaded.client_busy,
    )  # fmt: skip


def _brief(sample: Sample) -> str:
    database = "-" if sample.database_us is None else f"{sample.database_us:.0f}"
    return (
        f"{sample.requests_per_s:.0f} req/s, CPU/req server {sample.server_us:.0f} µs db {database} µs, "
        f"p50 {sample.p50_ms:.2f} ms p99 {sample.p99_ms:.2f} ms, cores busy: server {sample.server_busy:.0%} "
        f"client {sample.client_busy:.0%}"
    )
