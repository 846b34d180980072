"""TuneyardClient against a real server: batches, counts, the spool across a server restart and a client crash,
bad input set aside, and what record() refuses itself."""

from __future__ import annotations

import asyncio
import json
import math
import threading
import time
from pathlib import Path

import pytest

from tests.client.conftest import (
    FAST,
    eventually,
    expected,
    rejected,
    sample,
    server_away,
    spool_size,
    stored,
    unique,
    write_spool,
)
from tests.support import Server, free_port
from tuneyard.client import Execution, TuneyardClient


def test_records_in_batches_and_adds_up_the_servers_counts(
    server: Server, tokens: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    prefix = unique()
    executions = [sample(prefix, i) for i in range(1200)]
    with TuneyardClient(server.url, tokens["CURATOR"], spool_dir=tmp_path, batch_size=500) as client:
        for execution in executions:
            client.record(execution)
        assert client.flush(timeout=60)
        first = client.stats()
        for execution in executions[:10]:  # again, as they were
            client.record(execution)
        changed = sample(prefix, 10, user_request="Write post 10 about the second launch")
        client.record(changed)
        client.record({"executionId": f"{prefix}-camel", "userRequest": "camelCase keys", "qualityScore": 0.5})
        client.record({"execution_id": f"{prefix}-snake", "user_request": "snake_case keys", "model_id": "m"})
        assert client.flush(timeout=60)
        second = client.stats()

    assert (first.recorded, first.inserted, first.updated, first.unchanged) == (1200, 1200, 0, 0)
    assert (first.waiting, first.spooled, first.rejected) == (0, 0, 0)
    assert (second.recorded, second.inserted, second.updated, second.unchanged) == (1213, 1202, 1, 10)
    assert second.acknowledged == second.recorded
    rows = asyncio.run(stored(database_url, prefix))
    assert rows == {
        **expected([*executions, changed]),
        f"{prefix}-camel": ("camelCase keys", 0.5, None, [], None),
        f"{prefix}-snake": ("snake_case keys", None, None, [], "m"),
    }
    assert Path(tmp_path, "pending.jsonl").exists() is False  # the server answered every time: nothing spooled


def test_a_later_record_of_the_same_execution_goes_after_the_earlier_one(
    server: Server, tokens: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    """Both wait in the same batch window; the server takes an executionId once per call, so they go one by one."""
    prefix = unique()
    versions = [sample(prefix, 0, user_request=f"version {v}", quality_score=v / 10) for v in range(3)]
    with TuneyardClient(server.url, tokens["CURATOR"], spool_dir=tmp_path, flush_interval=5) as client:
        for version in versions:
            client.record(version)
        assert client.flush(timeout=60)
        stats = client.stats()
    assert (stats.inserted, stats.updated, stats.rejected) == (1, 2, 0)
    assert asyncio.run(stored(database_url, prefix)) == expected(versions[-1:])


def test_bad_input_is_set_aside_with_its_error_and_blocks_nothing(
    server: Server, tokens: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    prefix = unique()
    good = [sample(prefix, i) for i in range(6)]
    out_of_range = sample(prefix, 100, quality_score=2.0)  # refused by the server's rules (BAD_USER_INPUT)
    wrong_type = {"execution_id": f"{prefix}-101", "user_request": "x", "success": "yes"}  # refused by GraphQL itself
    with TuneyardClient(server.url, tokens["CURATOR"], spool_dir=tmp_path, flush_interval=5) as client:
        for execution in [good[0], out_of_range, good[1], good[2], wrong_type, good[3]]:
            client.record(execution)
        assert client.flush(timeout=60)
        client.record(good[4])  # later batches go as usual
        client.record(good[5])
        assert client.flush(timeout=60)
        stats = client.stats()

    assert (stats.inserted, stats.rejected, stats.waiting, stats.spooled) == (6, 2, 0, 0)
    assert asyncio.run(stored(database_url, prefix)) == expected(good)
    refused = rejected(tmp_path)
    assert [r["execution"]["executionId"] for r in refused] == [f"{prefix}-101", f"{prefix}-100"]
    assert "success" in refused[0]["error"] and "qualityScore" in refused[1]["error"]
    assert refused[1]["execution"] == out_of_range.to_input()


def test_a_batch_too_large_for_the_server_is_split_not_rejected(
    server: Server, tokens: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    """50 executions of 200 kB each make a body over the server's 8 MiB: it answers 413, the client halves."""
    prefix = unique()
    executions = [sample(prefix, i, business_state={"page": "x" * 200_000, "i": i}) for i in range(50)]
    with TuneyardClient(server.url, tokens["CURATOR"], spool_dir=tmp_path, batch_size=50, **FAST) as client:
        for execution in executions:
            client.record(execution)
        assert client.flush(timeout=120)
        stats = client.stats()
    assert (stats.inserted, stats.rejected) == (50, 0)
    assert asyncio.run(stored(database_url, prefix)) == expected(executions)


def test_record_refuses_at_once_what_could_never_be_sent(tmp_path: Path) -> None:
    with TuneyardClient(f"http://127.0.0.1:{free_port()}", "token", spool_dir=tmp_path) as client:
        with pytest.raises(TypeError):
            client.record({"execution_id": "a", "user_request": "x", "qualty_score": 0.5})  # a misspelt field
        with pytest.raises(TypeError):
            client.record({"user_request": "x"})  # no executionId
        with pytest.raises(TypeError):
            client.record(Execution(execution_id="a", user_request="x", business_state={"ids": {1, 2}}))
        with pytest.raises(ValueError):
            client.record(Execution(execution_id="a", user_request="x", quality_score=math.nan))
        assert client.stats().recorded == 0
    with pytest.raises(ValueError):
        TuneyardClient("http://127.0.0.1:1", "token", spool_dir=tmp_path, batch_size=1001)


def test_a_spool_left_by_a_killed_client_is_delivered_on_start(
    server: Server, tokens: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    """The spool as a client killed mid-write leaves it: a line the server already acknowledged (before the offset),
    two waiting, and half a line that the crash cut."""
    prefix = unique()
    acknowledged, waiting = sample(prefix, 0), [sample(prefix, 1), sample(prefix, 2)]
    lines = write_spool(tmp_path, [acknowledged, *waiting])
    with Path(tmp_path, "pending.jsonl").open("a") as spool:
        spool.write(json.dumps(sample(prefix, 3).to_input())[:40])
    Path(tmp_path, "pending.offset").write_text(str(len(lines[0].encode())))

    with TuneyardClient(server.url, tokens["CURATOR"], spool_dir=tmp_path) as client:
        assert client.stats().spooled == 2
        eventually(lambda: client.stats().spooled == 0)  # nothing recorded, nothing flushed: it starts on its own
        stats = client.stats()
    assert (stats.recorded, stats.inserted) == (0, 2)
    assert asyncio.run(stored(database_url, prefix)) == expected(waiting)
    assert spool_size(tmp_path) == 0
    assert not Path(tmp_path, "pending.offset").exists()


def test_closing_while_the_server_is_away_spools_all_for_the_next_client(
    server: Server, tokens: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    prefix = unique()
    executions = [sample(prefix, i) for i in range(25)]
    nobody = f"http://127.0.0.1:{free_port()}"
    with TuneyardClient(nobody, tokens["CURATOR"], spool_dir=tmp_path, **FAST) as away:
        for execution in executions:
            away.record(execution)
    assert away.stats().spooled == 25
    assert len(Path(tmp_path, "pending.jsonl").read_text().splitlines()) == 25

    with TuneyardClient(server.url, tokens["CURATOR"], spool_dir=tmp_path) as client:
        eventually(lambda: client.stats().spooled == 0)
        assert client.stats().inserted == 25
    assert asyncio.run(stored(database_url, prefix)) == expected(executions)


def test_nothing_is_lost_or_recorded_twice_across_a_server_restart(
    own_server: Server, tokens: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    """Executions recorded all along while the server stops and starts again: each is stored once, as sent."""
    prefix = unique()
    recorded: list[Execution] = []
    done = threading.Event()
    with TuneyardClient(own_server.url, tokens["CURATOR"], spool_dir=tmp_path, batch_size=50, **FAST) as client:

        def record_until_done() -> None:
            while not done.is_set():
                recorded.append(sample(prefix, len(recorded)))
                client.record(recorded[-1])
                time.sleep(0.002)

        recorder = threading.Thread(target=record_until_done)
        recorder.start()
        try:
            eventually(lambda: client.stats().acknowledged > 0)
            with server_away(own_server):
                eventually(lambda: client.stats().spooled > 0)  # the server is away: they go to disk
            delivered = client.stats().acknowledged
            eventually(lambda: client.stats().acknowledged > delivered)  # and go to the server again
        finally:
            done.set()
            recorder.join()
        assert client.flush(timeout=60)
        eventually(lambda: client.stats().spooled == 0)
        stats = client.stats()

    assert stats.recorded == len(recorded) and stats.waiting == 0 and stats.rejected == 0
    assert stats.acknowledged == len(recorded)  # each acknowledged once, as the client saw it
    assert stats.updated == 0  # an answer lost in the restart makes a re-send, which counts as unchanged
    assert asyncio.run(stored(database_url, prefix)) == expected(recorded)
    assert spool_size(tmp_path) == 0
