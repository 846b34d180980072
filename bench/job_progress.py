"""Job progress latency: job created -> first progress at a WebSocket client, and fan-out to 500 subscribers.

Usage: .venv/bin/python -m bench.job_progress [--jobs N] [--subscribers N]
Runs `tuneyard serve` (with its one worker process) on a scratch database of TUNEYARD_BENCH_DATABASE_URL's
server and TUNEYARD_BENCH_REDIS_URL, in a queue namespace of its own.

1. Latency: a client subscribed to jobUpdates starts a job (checkExamples over 1,000 examples) and times,
   from just before sending the mutation, the first event of that job with status RUNNING, and the first
   with progress > 0 (the first chunk of 100 checked).
2. Fan-out: N clients, each on its own WebSocket, subscribe to jobProgress of one job that reports progress
   about 20 times a second. A separate Redis subscriber in this process timestamps each "job changed"
   notice as it is published; each client's delivery latency is its receive time minus that timestamp.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid

import orjson
import psutil
import redis.asyncio as aioredis

from bench.common import ADMIN_URL, REDIS_URL, RawHTTP, create_database, drop_database, percentile
from tests.support import GraphQLWebSocket, Server, service_env, tuneyard
from tuneyard.jobs.progress import channel_name

CHECK = "mutation($c: Int!, $p: Int!) { checkExamples(chunkSize: $c, pauseMs: $p) { id } }"
UPDATES = "subscription { jobUpdates { id status progress } }"
PROGRESS = "subscription($id: ID!) { jobProgress(id: $id) { status progress message } }"


async def seed(database_url: str, count: int) -> None:
    import asyncpg

    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            """INSERT INTO examples (execution_id, user_request)
               SELECT 'bench-' || i, 'request ' || i FROM generate_series(1, $1) AS i""",
            count,
        )
    finally:
        await conn.close()


async def start_job(http: RawHTTP, chunk: int, pause_ms: int) -> str:
    status, body = await http.post("/graphql", {"query": CHECK, "variables": {"c": chunk, "p": pause_ms}})
    assert status == 200, body
    return str(orjson.loads(body)["data"]["checkExamples"]["id"])


async def first_progress(server: Server, token: str, jobs: int) -> tuple[list[float], list[float]]:
    """Milliseconds from sending the mutation to the first RUNNING event and to the first progress > 0."""
    http = RawHTTP(server.url, token)
    running_ms, progress_ms = [], []
    async with GraphQLWebSocket(server.url, token) as ws:
        await ws.subscribe(UPDATES)
        await asyncio.sleep(0.5)
        for _ in range(jobs):
            started = time.perf_counter()
            job_id = await start_job(http, chunk=100, pause_ms=0)
            running = progressed = None
            while progressed is None or running is None:
                _, message = await ws.receive()
                job = message["payload"]["data"]["jobUpdates"]
                now = (time.perf_counter() - started) * 1000
                if job["id"] != job_id:
                    continue
                if running is None and job["status"] in ("RUNNING", "SUCCEEDED"):
                    running = now
                if progressed is None and job["progress"] > 0:
                    progressed = now
            running_ms.append(running)
            progress_ms.append(progressed)
            while (await ws.receive())[1]["payload"]["data"]["jobUpdates"]["status"] != "SUCCEEDED":
                pass
    await http.close()
    return running_ms, progress_ms


async def fan_out(
    server: Server, database_url: str, token: str, namespace: str, subscribers: int
) -> tuple[list[float], int, int]:
    """Delivery latencies (ms after publish), most events one client saw, clients that saw the end."""
    published: dict[int, float] = {}  # version -> when its notice was published
    redis = aioredis.Redis.from_url(REDIS_URL)
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(channel_name(namespace))

    async def listen() -> None:
        async for message in pubsub.listen():
            if message["type"] == "message":
                published.setdefault(orjson.loads(message["data"])["version"], time.time())

    listener = asyncio.create_task(listen())
    clients = [GraphQLWebSocket(server.url, token) for _ in range(subscribers)]
    for i in range(0, subscribers, 50):
        await asyncio.gather(*(c.__aenter__() for c in clients[i : i + 50]))
    http = RawHTTP(server.url, token)
    job_id = await start_job(http, chunk=10, pause_ms=50)  # ~100 progress events over ~6 s
    await http.close()
    received: list[list[tuple[float, str, str]]] = []

    async def client(ws: GraphQLWebSocket) -> None:
        seen = []
        await ws.subscribe(PROGRESS, {"id": job_id})
        while True:
            kind, message = await ws.receive(wait=60)
            if kind == "complete":
                break
            job = message["payload"]["data"]["jobProgress"]
            seen.append((time.time(), job["status"], job["message"]))
        received.append(seen)

    await asyncio.gather(*(client(ws) for ws in clients))
    await asyncio.gather(*(ws.__aexit__() for ws in clients))
    listener.cancel()
    await pubsub.aclose()
    await redis.aclose()
    versions = await event_versions(database_url, job_id)
    # Count only changes published once every client had its first message: steady state, not subscribe load.
    ready = max(seen[0][0] for seen in received)
    steady = {v: t for v, t in published.items() if t > ready}
    return latencies(steady, versions, received), max(len(r) for r in received), len(received)


async def event_versions(database_url: str, job_id: str) -> dict[tuple[str, str], int]:
    """(status, message) -> seq of the job's events: each message text names one change."""
    import asyncpg

    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT seq, status, message FROM job_events WHERE job_id = $1", int(job_id))
    finally:
        await conn.close()
    return {(r["status"], r["message"]): r["seq"] for r in rows}


def latencies(
    published: dict[int, float], versions: dict[tuple[str, str], int], received: list[list[tuple[float, str, str]]]
) -> list[float]:
    found = []
    for seen in received:
        for at, status, text in seen[1:]:  # the first is the state at subscribe time, not a change
            version = versions.get((status, text))
            if version in published:
                found.append((at - published[version]) * 1000)
    return found


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=30)
    parser.add_argument("--subscribers", type=int, default=500)
    args = parser.parse_args()
    database_url = await create_database()
    namespace = f"tuneyard-bench-{uuid.uuid4().hex[:8]}"
    env = service_env(database_url, REDIS_URL, TUNEYARD_HOME=f"/tmp/{namespace}", TUNEYARD_QUEUE_NAMESPACE=namespace)
    token = tuneyard("token", "create", "--role", "ADMIN", "--name", "bench", env=env).strip()
    server = Server(env)
    try:
        await seed(database_url, 1000)
        server.start()
        await asyncio.sleep(1.5)  # let the worker process boot
        running, progressed = await first_progress(server, token, args.jobs)
        assert server.process is not None
        process = psutil.Process(server.process.pid)
        cpu_before = sum(process.cpu_times()[:2])
        delivered, events, clients = await fan_out(server, database_url, token, namespace, args.subscribers)
        server_cpu = sum(process.cpu_times()[:2]) - cpu_before
    finally:
        server.stop()
        await drop_database(database_url)
    print(f"server: tuneyard serve + 1 worker process; {ADMIN_URL.rsplit('@', 1)[-1]}, Redis {REDIS_URL}")
    print(
        f"machine: {os.cpu_count()} CPUs, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} (1, 5, 15 min)"
    )
    print(f"job created -> first RUNNING event at a WebSocket client ({args.jobs} jobs): "
          f"p50 {percentile(running, 50):6.1f} ms  p90 {percentile(running, 90):6.1f} ms")  # fmt: skip
    print(f"job created -> first progress > 0 at a WebSocket client ({args.jobs} jobs): "
          f"p50 {percentile(progressed, 50):6.1f} ms  p90 {percentile(progressed, 90):6.1f} ms")  # fmt: skip
    print(f"fan-out: {clients}/{args.subscribers} subscribers saw the job end, up to {events} events each")
    print(f"delivery after publish ({len(delivered)} deliveries): p50 {percentile(delivered, 50):6.1f} ms  "
          f"p99 {percentile(delivered, 99):6.1f} ms  max {max(delivered):6.1f} ms")  # fmt: skip
    deliveries = args.subscribers * events
    print(f"API server CPU during fan-out: {server_cpu:.2f} s, about {server_cpu / deliveries * 1e6:.0f} µs per delivery "
          f"(subscribe, connect and close included)")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
