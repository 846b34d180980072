"""recordExamples under concurrent calls on the same executionIds, each result checked against a model of what the
calls acknowledged: the first writer inserts, identical later ones are unchanged, an acknowledged createdAt never
moves unless a later call sends another one, every call's tags are kept, and no writer deadlocks."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from graphql import GraphQLError

from tests.examples.racing import CLIENTS, clients_pool, example, retries, rows, until_a_writer_waits
from tests.support import RECORD, Server
from tuneyard.core.db import ATTEMPTS, Connection, transact
from tuneyard.core.errors import WriteConflictError
from tuneyard.core.graphql.masking import present
from tuneyard.examples import service
from tuneyard.examples.models import NewExample, RecordResult

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
T1 = datetime(2025, 4, 1, 12, 0, tzinfo=UTC)


# The race, made deterministic: a batch of 999 new examples and E begins, and waits at its first example for
# an uncommitted insert of it; E alone is recorded meanwhile; then the insert is rolled back and the batch goes on to
# meet E, committed after the batch's statement began. (batch options, E-alone options, E in the batch's result,
# E's tags and createdAt at the end: "alone" is the time the call that recorded E alone gave it.)
RACES = [
    ({}, {}, "unchanged", [], "alone"),
    ({"tags": ["batch"]}, {}, "updated", ["batch"], "alone"),
    ({}, {"tags": ["alone"]}, "unchanged", ["alone"], "alone"),
    ({"tags": ["batch"]}, {"tags": ["alone"]}, "updated", ["alone", "batch"], "alone"),
    ({}, {"created_at": T0}, "unchanged", [], T0),
    ({"created_at": T1}, {}, "updated", [], T1),
    ({"created_at": T0}, {"created_at": T0}, "unchanged", [], T0),
    ({"created_at": T1, "tags": ["batch"]}, {"created_at": T0}, "updated", ["batch"], T1),
]


@pytest.mark.parametrize(("batch_options", "alone_options", "outcome", "tags", "created_at"), RACES)
async def test_a_batch_meets_an_example_recorded_after_it_began(
    database_url: str, caplog: pytest.LogCaptureFixture,
    batch_options: dict[str, Any], alone_options: dict[str, Any], outcome: str, tags: list[str], created_at: Any,
) -> None:  # fmt: skip
    async with clients_pool(database_url) as pool:
        batch = [example(f"race-{i:03d}", **batch_options) for i in range(999)] + [example("race-e", **batch_options)]
        holder = await asyncpg.connect(database_url)
        try:
            held = holder.transaction()
            await held.start()
            await holder.execute("INSERT INTO examples (execution_id, user_request) VALUES ('race-000', 'held')")
            recording = asyncio.ensure_future(service.record(pool, batch))
            await until_a_writer_waits(pool)
            alone = await service.record(pool, [example("race-e", **alone_options)])
            acknowledged = (await rows(pool, ["race-e"]))["race-e"]
            await held.rollback()
        finally:
            await holder.close()
        result = await recording
        assert alone == RecordResult(inserted=1, updated=0, unchanged=0)
        assert result == RecordResult(
            inserted=999, updated=int(outcome == "updated"), unchanged=int(outcome == "unchanged")
        )
        stored = (await rows(pool, ["race-e"]))["race-e"]
        assert stored["tags"] == tags
        assert stored["created_at"] == (acknowledged["created_at"] if created_at == "alone" else created_at)
        if outcome == "unchanged":
            assert stored["updated_at"] == acknowledged["updated_at"]
        assert not retries(caplog)


async def test_many_clients_record_the_same_new_examples(database_url: str, caplog: pytest.LogCaptureFixture) -> None:
    """Rounds of CLIENTS calls at once over the same new executionIds, in random orders and sizes, half of them
    with a tag of their own; then the same calls again, all unchanged."""
    rng = random.Random(16)
    async with clients_pool(database_url) as pool:
        for round_number in range(6):
            dated = round_number % 2 == 1  # every call sends the same createdAt, or none does
            keys = [f"r{round_number}-{i:04d}" for i in range(600)]
            calls = [
                (rng.sample(keys, rng.choice([1, 7, 150, 600])), [f"client-{k}"] if k % 2 else None)
                for k in range(CLIENTS)
            ]

            async def send(ids: list[str], tags: list[str] | None, dated: bool = dated) -> RecordResult:
                return await service.record(
                    pool, [example(i, tags=tags, created_at=T0 if dated else None) for i in ids]
                )

            results = await asyncio.gather(*(send(ids, tags) for ids, tags in calls))
            sent = {i for ids, _ in calls for i in ids}
            assert sum(r.inserted for r in results) == len(sent), "each example inserted by exactly one call"
            for (ids, tags), result in zip(calls, results, strict=True):
                assert result.inserted + result.updated + result.unchanged == len(ids)
                if tags:  # its own tag is new on every example it did not insert
                    assert (result.updated, result.unchanged) == (len(ids) - result.inserted, 0), result
                else:  # identical content, no createdAt or the same one: nothing to change
                    assert result.updated == 0, result
            stored = await rows(pool, sorted(sent))
            for key, row in stored.items():
                assert row["tags"] == sorted({t for ids, tags in calls if tags and key in ids for t in tags})
                # Inserted with createdAt and updatedAt from one now(), and never updated since.
                assert row["created_at"] == (T0 if dated else row["updated_at"]), row

            again = await asyncio.gather(*(send(ids, tags) for ids, tags in calls))
            assert [r.unchanged for r in again] == [len(ids) for ids, _ in calls]
            assert await rows(pool, sorted(sent)) == stored
    assert not retries(caplog)


async def test_rerecording_in_opposite_orders_neither_deadlocks_nor_interleaves(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """CLIENTS calls re-record the same 500 examples, half of them in reverse order: first with identical content,
    then each with scores of its own. Locked in one order, the calls run one after another on these rows."""
    keys = [f"same-{i:03d}" for i in range(500)]
    async with clients_pool(database_url) as pool:
        await service.record(pool, [example(k) for k in keys])

        def batch(k: int, score: float) -> list[NewExample]:
            ordered = keys[::-1] if k % 2 else keys
            return [example(key, score=score) for key in ordered]

        same = await asyncio.gather(*(service.record(pool, batch(k, 0.5)) for k in range(CLIENTS)))
        assert all(r == RecordResult(inserted=0, updated=0, unchanged=500) for r in same)
        for round_number in range(3):
            scores = [(round_number * CLIENTS + k + 1) / 1000 for k in range(CLIENTS)]
            results = await asyncio.gather(*(service.record(pool, batch(k, s)) for k, s in enumerate(scores)))
            assert all(r == RecordResult(inserted=0, updated=500, unchanged=0) for r in results)
            final = {row["quality_score"] for row in (await rows(pool, keys)).values()}
            assert len(final) == 1 and final <= set(scores), "every row left by the same, last, call"
    assert not retries(caplog)


async def test_new_examples_take_ids_in_the_order_sent(database_url: str) -> None:
    """Rows are written in executionId order, but ids still follow the batch: ties in createdAt walk as sent."""
    keys = ["k-5", "k-1", "k-10", "k-3", "k-20"]
    async with clients_pool(database_url) as pool:
        await service.record(pool, [example(k) for k in keys])
        stored = await rows(pool, keys)
    assert sorted(keys, key=lambda k: stored[k]["id"]) == keys


async def test_racing_calls_over_http(server: Server, tokens: dict[str, str], db: asyncpg.Connection) -> None:
    """The same race through the API: no error of any kind, counts and tags as acknowledged."""
    rng = random.Random(4)
    headers = {"Authorization": f"Bearer {tokens['CURATOR']}", "Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=60) as http:
        for round_number in range(3):
            keys = [f"http-{round_number}-{i:03d}" for i in range(300)]
            calls = [(rng.sample(keys, rng.choice([1, 50, 300])), [f"c{k}"] if k % 2 else []) for k in range(8)]

            async def send(ids: list[str], tags: list[str]) -> dict[str, int]:
                batch = [{"executionId": i, "userRequest": f"post {i}", "qualityScore": 0.7, "tags": tags} for i in ids]
                body = orjson.dumps({"query": RECORD, "variables": {"examples": batch}})
                answer = (await http.post("/graphql", content=body)).json()
                assert "errors" not in answer, answer["errors"]
                result: dict[str, int] = answer["data"]["recordExamples"]
                return result

            results = await asyncio.gather(*(send(ids, tags) for ids, tags in calls))
            assert sum(r["inserted"] for r in results) == len({i for ids, _ in calls for i in ids})
            for (ids, tags), result in zip(calls, results, strict=True):
                assert result["updated"] == (len(ids) - result["inserted"] if tags else 0), result
            stored = dict(
                await db.fetch("SELECT execution_id, tags FROM example_rows WHERE execution_id = ANY($1)", keys)
            )
            for key, tags in stored.items():
                assert tags == sorted({t for ids, mine in calls if key in ids for t in mine})


async def test_a_deadlock_victim_is_run_again(database_url: str, caplog: pytest.LogCaptureFixture) -> None:
    """Two transactions lock two rows in opposite orders: PostgreSQL aborts one, transact runs it again."""
    async with clients_pool(database_url) as pool:
        await service.record(pool, [example("a"), example("b")])
        first_locks = 0
        both_hold_one = asyncio.Event()

        def locking(order: tuple[str, str]) -> Any:
            async def work(conn: Connection) -> tuple[str, str]:
                nonlocal first_locks
                await conn.execute("SET LOCAL deadlock_timeout = '20ms'")
                await conn.execute("SELECT 1 FROM examples WHERE execution_id = $1 FOR NO KEY UPDATE", order[0])
                first_locks += 1
                if first_locks == 2:
                    both_hold_one.set()
                await both_hold_one.wait()  # set already when a victim runs again
                await conn.execute("SELECT 1 FROM examples WHERE execution_id = $1 FOR NO KEY UPDATE", order[1])
                return order

            return work

        done = await asyncio.gather(transact(pool, locking(("a", "b"))), transact(pool, locking(("b", "a"))))
    assert done == [("a", "b"), ("b", "a")]
    assert len(retries(caplog)) == 1 and "40P01" in retries(caplog)[0]


async def test_a_write_still_aborted_after_its_retries_is_a_retryable_conflict(database_url: str) -> None:
    attempts = 0

    async def always_aborted(conn: Connection) -> None:
        nonlocal attempts
        attempts += 1
        await conn.execute("DO $$ BEGIN RAISE 'lost a race' USING ERRCODE = 'serialization_failure'; END $$")

    async with clients_pool(database_url) as pool:
        with pytest.raises(WriteConflictError) as caught:
            await transact(pool, always_aborted)
    assert attempts == ATTEMPTS
    assert "sending it again is safe" in caught.value.message
    shown = present(GraphQLError(caught.value.message, path=["recordExamples"], original_error=caught.value))
    assert shown.extensions == {"code": "CONFLICT", "retryable": True}, "what a client sees: a code, and to retry"
