"""AsyncTuneyardClient against a real server: the same guarantees as TuneyardClient, on the caller's event loop."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.client.conftest import (
    FAST,
    AnswerDropper,
    eventually_async,
    expected,
    rejected,
    sample,
    spool_size,
    stored,
    unique,
    write_spool,
)
from tests.support import Server
from tuneyard.client import AsyncTuneyardClient, Execution


async def test_records_in_batches_and_adds_up_the_servers_counts(
    server: Server, tokens: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    prefix = unique()
    executions = [sample(prefix, i) for i in range(700)]
    async with AsyncTuneyardClient(server.url, tokens["CURATOR"], spool_dir=tmp_path, batch_size=300) as client:
        for execution in executions:
            client.record(execution)
        assert await client.flush(timeout=60)
        changed = sample(prefix, 3, quality_score=0.01)
        client.record(changed)
        client.record(executions[4])
        assert await client.flush(timeout=60)
        stats = client.stats()
    assert (stats.recorded, stats.inserted, stats.updated, stats.unchanged) == (702, 700, 1, 1)
    assert (stats.waiting, stats.spooled, stats.rejected) == (0, 0, 0)
    assert await stored(database_url, prefix) == expected([*executions, changed])


async def test_bad_input_is_set_aside_with_its_error_and_blocks_nothing(
    server: Server, tokens: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    prefix = unique()
    good = [sample(prefix, i) for i in range(4)]
    bad = sample(prefix, 100, user_request=" ")  # refused: an empty request
    async with AsyncTuneyardClient(server.url, tokens["CURATOR"], spool_dir=tmp_path, **FAST) as client:
        for execution in [good[0], bad, *good[1:]]:
            client.record(execution)
        assert await client.flush(timeout=60)
        stats = client.stats()
    assert (stats.inserted, stats.rejected) == (4, 1)
    assert await stored(database_url, prefix) == expected(good)
    (refused,) = rejected(tmp_path)
    assert refused["execution"] == bad.to_input() and "userRequest" in refused["error"]


async def test_an_answer_lost_after_the_server_wrote_is_sent_again_and_stored_once(
    server: Server, tokens: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    """The answers to the first two calls are lost: the first batch goes three times, and counts once inserted."""
    prefix = unique()
    executions = [sample(prefix, i) for i in range(30)]
    async with AnswerDropper(server.port, drop=2) as proxy:
        client = AsyncTuneyardClient(proxy.url, tokens["CURATOR"], spool_dir=tmp_path, batch_size=10, **FAST)
        for execution in executions:  # all before the sender first runs: three full batches
            client.record(execution)
        assert await client.flush(timeout=60)
        await eventually_async(lambda: client.stats().spooled == 0)
        await client.close()
        stats = client.stats()
    assert proxy.dropped == 2
    assert (stats.inserted, stats.updated, stats.unchanged, stats.rejected) == (20, 0, 10, 0)
    assert await stored(database_url, prefix) == expected(executions)


async def test_a_spool_left_by_a_killed_client_is_delivered_on_start(
    server: Server, tokens: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    prefix = unique()
    waiting = [sample(prefix, i) for i in range(3)]
    write_spool(tmp_path, waiting)
    async with AsyncTuneyardClient(server.url, tokens["CURATOR"], spool_dir=tmp_path) as client:
        await eventually_async(lambda: client.stats().spooled == 0)
        assert client.stats().inserted == 3
    assert await stored(database_url, prefix) == expected(waiting)
    assert spool_size(tmp_path) == 0


async def test_nothing_is_lost_or_recorded_twice_across_a_server_restart(
    own_server: Server, tokens: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    prefix = unique()
    recorded: list[Execution] = []
    done = asyncio.Event()
    async with AsyncTuneyardClient(
        own_server.url, tokens["CURATOR"], spool_dir=tmp_path, batch_size=50, **FAST
    ) as client:

        async def record_until_done() -> None:
            while not done.is_set():
                recorded.append(sample(prefix, len(recorded)))
                client.record(recorded[-1])
                await asyncio.sleep(0.002)

        recorder = asyncio.create_task(record_until_done())
        try:
            await eventually_async(lambda: client.stats().acknowledged > 0)
            await asyncio.to_thread(own_server.stop)
            try:
                await eventually_async(lambda: client.stats().spooled > 0)
            finally:
                await asyncio.to_thread(own_server.start)
            delivered = client.stats().acknowledged
            await eventually_async(lambda: client.stats().acknowledged > delivered)
        finally:
            done.set()
            await recorder
        assert await client.flush(timeout=60)
        await eventually_async(lambda: client.stats().spooled == 0)
        stats = client.stats()

    assert stats.recorded == stats.acknowledged == len(recorded)
    assert (stats.updated, stats.rejected, stats.waiting) == (0, 0, 0)
    assert await stored(database_url, prefix) == expected(recorded)
    assert spool_size(tmp_path) == 0
