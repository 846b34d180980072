"""A deployment as README's "Deploying: replicas and workers" describes it: two API replicas (`tuneyard serve` with no
worker of their own) and two `tuneyard worker` processes, one of them fine-tune only, on one new database and one
Redis. The replicas start (and migrate the empty database) at once; a job started through one replica runs once,
on a worker, while a subscription on the other replica follows it; both replicas read the same; a worker killed
mid-job leaves the job to the other, which finishes it without starting the provider's job twice."""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from bench.data import examples as generate
from tests.support import JOB_TEST_SETTINGS, RECORD, GraphQLClient, GraphQLWebSocket, Server, service_env
from tests.support.databases import with_database
from tests.workers.conftest import Worker, until, worker_processes
from tests.workers.provider import FINE_TUNE_QUEUE_JOB, PROVIDER_TABLE, ProviderInput
from tuneyard.auth.service import create_token
from tuneyard.core import queue as broker
from tuneyard.core.config import Settings
from tuneyard.core.db import create_pool
from tuneyard.core.migrations import available
from tuneyard.core.principal import Role
from tuneyard.core.redis import async_client
from tuneyard.jobs import progress
from tuneyard.jobs import service as jobs
from tuneyard.jobs.models import JobStatus

CHECK = "mutation { checkExamples(chunkSize: 3, pauseMs: 150) { id status } }"
PROGRESS = "subscription($id: ID!) { jobProgress(id: $id) { status progress message attempts } }"
JOB = (
    "query($id: ID!) { job(id: $id) { id status progress attempts result events(last: 1000) { seq status message } } }"
)
READS = "{ jobs(first: 20) { totalCount nodes { id kind status progress attempts } } examples { totalCount } }"
EXAMPLES = 30


@dataclass
class Deployment:
    replicas: tuple[Server, Server]
    env: dict[str, str]
    pool: asyncpg.Pool
    curator: tuple[GraphQLClient, GraphQLClient]  # one per replica
    reader_token: str


@pytest.fixture
async def deployment(backing: tuple[str, str], tmp_path: Path) -> AsyncIterator[Deployment]:
    """Two replicas on a new, empty database: each migrates it as it starts, at the same moment."""
    name = f"tuneyard_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(backing[0])
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = with_database(backing[0], name)
    namespace = f"tuneyard-r-{uuid.uuid4().hex[:12]}"
    env = service_env(
        url, backing[1], **{**JOB_TEST_SETTINGS, "TUNEYARD_WORKER_POLL_MS": "1000"},  # the default: wake-ups, not polls
        TUNEYARD_HOME=str(tmp_path / "home"), TUNEYARD_QUEUE_NAMESPACE=namespace, TUNEYARD_SERVE_WORKERS="0",
        TUNEYARD_WORKER_TASK_MODULES='["tests.workers.provider"]',
        TUNEYARD_JOB_REQUEUE_SECONDS="2",  # a delayed message held by a killed worker is sent again soon
    )  # fmt: skip
    replicas = (Server(env), Server(env))
    the_broker = broker.configure(Settings(queue_namespace=namespace), backing[1])
    client = async_client(backing[1])
    progress.configure(client, namespace)
    pool = None
    try:
        with ThreadPoolExecutor(2) as starting:
            list(starting.map(lambda replica: replica.start(timeout=90), replicas))
        pool = await create_pool(url, max_size=4)
        await pool.execute(PROVIDER_TABLE)
        curator = await create_token(pool, Role.CURATOR, "replicas curator")
        reader = await create_token(pool, Role.READER, "replicas reader")
        yield Deployment(replicas, env, pool, (GraphQLClient(replicas[0].url, curator),
                                               GraphQLClient(replicas[1].url, curator)), reader)  # fmt: skip
    finally:
        for replica in replicas:
            replica.stop()
        if pool is not None:
            await pool.close()
        the_broker.flush_all()
        broker.close()
        await client.aclose()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
def start_worker(deployment: Deployment, tmp_path: Path) -> Iterator[Callable[..., Worker]]:
    yield from worker_processes(deployment.env, tmp_path)


async def follow(url: str, token: str, job_id: str) -> list[dict[str, Any]]:
    """Every state jobProgress sends on this replica until the job's final one."""
    async with GraphQLWebSocket(url, token) as socket:
        await socket.subscribe(PROGRESS, {"id": job_id})
        return [event["jobProgress"] for event in await socket.results(wait=20)]


async def test_two_replicas_and_two_workers_share_one_database_and_redis(
    deployment: Deployment, start_worker: Callable[..., Worker]
) -> None:
    a, b = deployment.replicas
    at_a, at_b = deployment.curator
    # Both replicas migrated the empty database at once: one applied every migration, both serve.
    versions = await deployment.pool.fetch("SELECT version FROM schema_migrations ORDER BY 1")
    assert [r["version"] for r in versions] == [version for version, _ in available()]
    logs = a.logs() + b.logs()
    assert logs.count("applied migrations:") == 1, logs

    everything = start_worker("--threads", "2")
    gpu = start_worker("--threads", "1", "--queues", "finetune")
    everything.wait_ready()
    gpu.wait_ready()
    ready = gpu.output().split("worker ready: ", 1)[1].split(";")[0]
    assert ready == "finetune.run (finetune), test.provider_finetune (finetune)", ready

    # A job started through replica A, followed on replica B.
    at_a.data(RECORD, {"examples": list(generate(EXAMPLES, seed=5, prefix="replica"))})
    job_id = at_a.data(CHECK)["checkExamples"]["id"]
    seen = await follow(b.url, deployment.reader_token, job_id)
    assert seen[-1]["status"] == "SUCCEEDED" and seen[-1]["progress"] == 1.0, seen
    running = [event["progress"] for event in seen if event["status"] == "RUNNING"]
    assert len(set(running)) >= 3 and running == sorted(running), seen  # its progress, as it went

    # It ran once: one claim, one attempt; and both replicas read the same job, jobs and examples.
    job = at_a.data(JOB, {"id": job_id})["job"]
    assert job == at_b.data(JOB, {"id": job_id})["job"]
    assert job["attempts"] == 1 and [e["message"] for e in job["events"]].count("running") == 1, job["events"]
    assert job["result"]["examined"] == EXAMPLES and job["result"]["complete"] is True
    assert at_a.data(READS) == at_b.data(READS)
    assert at_a.data(READS)["examples"]["totalCount"] == EXAMPLES

    # A job on the fine-tune queue (either worker may take it: one runs every queue); its worker is killed while
    # it holds the job, and the other finishes it from its checkpoint, on attempt 2, never starting a second
    # provider job. Replica B's subscription follows it through the retry.
    polls = ProviderInput(polls=3, interval=0.2, first_poll_seconds=30)
    started = await jobs.create_and_enqueue(deployment.pool, FINE_TUNE_QUEUE_JOB, polls)
    watching = asyncio.create_task(follow(b.url, deployment.reader_token, str(started.id)))

    async def first_poller() -> int | None:
        rows = await deployment.pool.fetch("SELECT polled_by FROM provider_jobs WHERE job_id = $1", started.id)
        return rows[0]["polled_by"][0] if rows and rows[0]["polled_by"] else None

    holder = await until(first_poller, 30, "the fine-tune job to start")
    killed, other = (everything, gpu) if holder == everything.pid else (gpu, everything)
    assert holder == killed.pid
    killed.process.send_signal(signal.SIGKILL)
    killed.process.wait(10)

    seen = await asyncio.wait_for(watching, 60)
    assert seen[-1]["status"] == "SUCCEEDED" and seen[-1]["attempts"] == 2, seen
    assert any(event["status"] == "RUNNING" and event["attempts"] == 1 for event in seen), seen
    events = at_b.data(JOB, {"id": str(started.id)})["job"]["events"]
    assert "worker lost on attempt 1; retrying" in [event["message"] for event in events], events
    rows = await deployment.pool.fetch("SELECT polled_by FROM provider_jobs WHERE job_id = $1", started.id)
    assert [r["polled_by"] for r in rows] == [[killed.pid, other.pid, other.pid]], "one provider job, polled on"
    final = await jobs.get(deployment.pool, started.id)
    assert final is not None and final.status is JobStatus.SUCCEEDED and final.result["polls"] == 3
    assert at_a.data(READS) == at_b.data(READS)
