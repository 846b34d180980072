"""Purges at once with the other writers of the same rows (tagging, undo, re-recording, archive and restore): no
deadlock, no retry, and every count explained by what the calls acknowledged."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.examples.racing import CLIENTS, clients_pool, example, retries, rows
from tuneyard.core.errors import ConflictError, ValidationError
from tuneyard.curation import service as curation
from tuneyard.examples import service as examples

KEYS = [f"pur-{i:03d}" for i in range(400)]
# The tag log, one row per operation and example it changed.
LOGGED = "(SELECT operation_id, unnest(example_ids) AS example_id FROM tag_operation_batches) AS logged"
ALL = {"executionId": {"in": KEYS}}
# Purge filters that scan the rows in different orders, overlapping each other.
FILTERS: list[dict[str, Any]] = [
    ALL,
    {"executionId": {"in": KEYS[::-1][:250]}},
    {"executionId": {"in": KEYS[::2]}},
    {"text": "post", "intent": {"eq": "publish"}},
]


async def purge_once(pool: Any, where: dict[str, Any]) -> int:
    """A dry run, then a purge confirming its number; 0 when the rows changed in between (a refusal)."""
    counted = (await curation.purge(pool, where, "")).deletable
    try:
        return (await curation.purge(pool, where, str(counted))).deletable
    except (ConflictError, ValidationError) as refused:
        assert "nothing was deleted" in refused.message
        return 0


async def test_purges_beside_taggers_recorders_and_archivers(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with clients_pool(database_url) as pool:
        await pool.execute("TRUNCATE tag_operations, tag_operation_batches, purge_dry_runs RESTART IDENTITY")
        await examples.record(pool, [example(k, tags=["seed"]) for k in KEYS])
        await curation.archive(pool, ALL)
        present, deleted = len(KEYS), 0
        operations = []
        for round_number in range(4):
            tagging = [
                curation.tag_examples(pool, {**ALL, "archived": True}, [f"t-{round_number}-{k}"], None, None)
                for k in range(2)
            ]
            recording = [
                examples.record(pool, [example(key, score=0.1 * k, tags=[f"r-{round_number}"]) for key in order])
                for k, order in enumerate((KEYS[:150], KEYS[::-1][:150]))
            ]
            flips = [curation.restore(pool, {"executionId": {"in": KEYS[100:140]}}), curation.archive(pool, ALL)]
            undos = [curation.undo_tag_operation(pool, str(op.id)) for op in operations[-2:-1]]
            purges = [purge_once(pool, FILTERS[(round_number + k) % len(FILTERS)]) for k in range(CLIENTS - 7)]
            results = await asyncio.gather(*tagging, *recording, *flips, *purges, *undos, return_exceptions=True)
            undo_results = results[len(results) - len(undos) :]
            assert all(not isinstance(r, BaseException) or isinstance(r, ConflictError) for r in undo_results)
            results = results[: len(results) - len(undos)]
            assert not [r for r in results if isinstance(r, BaseException)], results
            operations += results[: len(tagging)]
            recorded = results[len(tagging) : len(tagging) + len(recording)]
            deleted += sum(results[len(tagging) + len(recording) + len(flips) :])  # type: ignore[misc,arg-type]
            present += sum(r.inserted for r in recorded)  # type: ignore[union-attr]
            stored = await rows(pool, KEYS)
            assert len(stored) == present - deleted, "every example is there or was purged by an acknowledged call"
            await curation.archive(pool, ALL)
        assert deleted > 0

        # The tag log names no purged example, and each operation's changes plus its purged ones are all it made.
        orphans = await pool.fetchval(
            f"SELECT count(*) FROM {LOGGED} WHERE NOT EXISTS (SELECT 1 FROM examples e WHERE e.id = logged.example_id)"
        )
        assert orphans == 0
        counts = await pool.fetch(
            f"SELECT o.affected_count, o.purged_count, "
            f"(SELECT count(*) FROM {LOGGED} WHERE logged.operation_id = o.id) AS logged FROM tag_operations o"
        )
        assert all(r["affected_count"] == r["logged"] + r["purged_count"] for r in counts)
        assert sum(r["purged_count"] for r in counts) > 0
    assert not retries(caplog), "writers lock in one order: no deadlock to retry"
