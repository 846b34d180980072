"""Both brokers (Redis, RabbitMQ): a worker idles cheaply yet takes a new job at once, keeps the due times of
delayed messages, and takes only the jobs of its own queue namespace."""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support import free_port, service_env
from tests.workers.conftest import Worker, Yard, delete_rabbitmq_queues, rabbitmq_url
from tests.workers.provider import PROVIDER_JOB, ProviderInput
from tuneyard.core import queue as broker
from tuneyard.core.config import Settings
from tuneyard.core.errors import UnavailableError
from tuneyard.jobs import service as jobs
from tuneyard.jobs.models import JobStatus
from tuneyard.maintenance.service import start_check

# Polling alone would leave a new job waiting 2.5 s on average: the wake-up is what makes it prompt.
IDLE_POLL_MS = "5000"
IDLE_SECONDS = 5.0
MAX_IDLE_CPU = 0.03  # of one core; a worker polling every 20 ms used 0.12 to 0.18
MAX_PICKUP = 1.0  # seconds from a job's creation to its claim


@pytest.fixture(params=["redis", "rabbitmq"])
def broker_url(request: pytest.FixtureRequest) -> str | None:
    return rabbitmq_url() if request.param == "rabbitmq" else None


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of the process, all its threads (from /proc)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def pickup_seconds(yard: Yard, job_id: int) -> float:
    """From the job's creation to its claim, by the database's clock."""
    seconds: Any = await yard.pool.fetchval(
        "SELECT extract(epoch FROM started_at - created_at) FROM jobs WHERE id = $1", job_id
    )
    return float(seconds)


async def test_an_idle_worker_is_cheap_and_takes_a_new_job_at_once(
    yard: Yard, workers: Callable[..., Worker], broker_url: str | None
) -> None:
    ours = workers("--threads", "2", TUNEYARD_WORKER_POLL_MS=IDLE_POLL_MS)
    # Same database and broker, another namespace (another installation, or test session): never takes our jobs.
    other_namespace = f"tuneyard-other-{uuid.uuid4().hex[:8]}"
    theirs = workers(TUNEYARD_QUEUE_NAMESPACE=other_namespace)
    try:
        await _idle_then_prompt(yard, ours, theirs, broker_url)
    finally:
        theirs.process.kill()
        theirs.process.wait(10)
        if broker_url:
            delete_rabbitmq_queues(broker_url, other_namespace)


async def _idle_then_prompt(yard: Yard, ours: Worker, theirs: Worker, broker_url: str | None) -> None:
    ours.wait_ready()
    theirs.wait_ready()
    assert ("RabbitMQ at" if broker_url else "on Redis") in ours.output()
    await asyncio.sleep(1.0)  # past start-up
    before, started = cpu_seconds(ours.pid), time.monotonic()
    await asyncio.sleep(IDLE_SECONDS)
    idle = (cpu_seconds(ours.pid) - before) / (time.monotonic() - started)
    assert idle < MAX_IDLE_CPU, f"an idle worker used {idle:.1%} of a core"

    pickups = []
    for _ in range(4):
        await asyncio.sleep(0.3)
        job = await jobs.create_and_enqueue(yard.pool, PROVIDER_JOB, ProviderInput(polls=1))
        assert (await yard.final(job.id, within=15)).status is JobStatus.SUCCEEDED
        pickups.append(await pickup_seconds(yard, job.id))
        assert [row["polled_by"] for row in await yard.provider_jobs(job.id)] == [[ours.pid]]
    check = await start_check(yard.pool, False, 100, 0, "test")
    assert (await yard.final(check.id, within=15)).status is JobStatus.SUCCEEDED
    pickups.append(await pickup_seconds(yard, check.id))
    assert max(pickups) < MAX_PICKUP, f"pickup latencies (s): {pickups}"

    # Delayed messages come back when due, not at the next idle poll 5 s later.
    polling = await jobs.create_and_enqueue(yard.pool, PROVIDER_JOB, ProviderInput(polls=4, interval=0.3))
    assert (await yard.final(polling.id, within=15)).status is JobStatus.SUCCEEDED
    polled_at = (await yard.provider_jobs(polling.id))[0]["polled_at"]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(polled_at)]
    assert len(gaps) == 3 and all(0.25 < gap < 1.5 for gap in gaps), gaps


@pytest.mark.parametrize(
    ("command", "env", "message"),
    [
        ("worker", {"TUNEYARD_BROKER_URL": "kafka://user:secret@mq:9092"},
         "TUNEYARD_BROKER_URL: must be an amqp://, amqps://, redis:// or rediss:// URL (or unset: the Redis of "
         "TUNEYARD_REDIS_URL); got kafka://..."),
        ("serve", {"TUNEYARD_BROKER_URL": "kafka://user:secret@mq:9092"}, "TUNEYARD_BROKER_URL: must be an amqp://"),
        ("worker", {"TUNEYARD_BROKER_URL": "amqp://user:secret@mq/", "TUNEYARD_QUEUE_NAMESPACE": "our jobs"},
         "TUNEYARD_QUEUE_NAMESPACE: with RabbitMQ it starts RabbitMQ queue names, so it must be 1 to 100 letters"),
        ("worker", {"TUNEYARD_WORKER_POLL_MS": "60000"},
         "TUNEYARD_WORKER_POLL_MS: Input should be less than or equal to 10000"),
    ],
)  # fmt: skip
def test_broker_settings_that_cannot_work_are_refused_before_anything_starts(
    command: str, env: dict[str, str], message: str, tmp_path: Path
) -> None:
    settings = service_env("postgresql://nobody@127.0.0.1:1/none", "redis://127.0.0.1:1/0", **env)
    done = subprocess.run(
        [sys.executable, "-m", "tuneyard.cli", command], env={**settings, "TUNEYARD_HOME": str(tmp_path)},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and "secret" not in done.stderr and "Traceback" not in done.stderr, done.stderr


@pytest.mark.parametrize("broker_url", [None])  # the yard's own broker: Redis (no RabbitMQ is needed here)
async def test_starting_a_job_while_rabbitmq_is_down_is_unavailable_and_leaves_no_row(yard: Yard) -> None:
    nowhere = f"amqp://guest:guest@127.0.0.1:{free_port()}/"
    broker.configure(Settings(queue_namespace="nowhere", broker_url=nowhere), "redis://127.0.0.1:1/0")
    with pytest.raises(UnavailableError, match=r"the job queue \(RabbitMQ\) is unreachable; the job was not started"):
        await jobs.create_and_enqueue(yard.pool, PROVIDER_JOB, ProviderInput(polls=1))
    assert await yard.pool.fetchval("SELECT count(*) FROM jobs") == 0
