"""Curation writers at once with each other and with recordExamples, on the same rows: no deadlock, no retry, and
every count and tag explained by what the calls acknowledged."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.examples.racing import CLIENTS, clients_pool, example, retries, rows
from tuneyard.curation import service as curation
from tuneyard.examples import service as examples

KEYS = [f"cur-{i:03d}" for i in range(600)]


def ordered(k: int) -> list[str]:
    """KEYS in the order client k sends them: every other client in reverse."""
    return KEYS[::-1] if k % 2 else KEYS


async def test_archive_and_restore_in_any_order_beside_rerecords(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Archivers and restorers select the same 600 rows through filters that scan them in different orders, while
    others re-record those rows (scores changed, in opposite orders). The flips they report add up to the end state."""
    async with clients_pool(database_url) as pool:
        await examples.record(pool, [example(k) for k in KEYS])
        ids = sorted(r["id"] for r in (await rows(pool, KEYS)).values())
        filters: list[dict[str, Any]] = [
            {"ids": [str(i) for i in reversed(ids)]},
            {"qualityScore": {"gte": 0}},
            {"executionId": {"in": KEYS}},
            {"intent": {"eq": "publish"}, "text": "post"},
        ]
        archived = 0
        for round_number in range(5):
            flips = [
                (curation.archive if k % 2 else curation.restore)(pool, filters[k % 4]) for k in range(CLIENTS - 2)
            ]
            rerecords = [
                examples.record(pool, [example(key, score=(round_number + k) / 10) for key in ordered(k)])
                for k in range(2)
            ]
            results = await asyncio.gather(*flips, *rerecords)
            counts = results[: len(flips)]
            archived += sum(n if k % 2 else -n for k, n in enumerate(counts))
            assert all(0 <= n <= len(KEYS) for n in counts)
            stored = await rows(pool, KEYS)
            assert sum(r["archived"] for r in stored.values()) == archived, counts
    assert not retries(caplog)


async def test_tagging_undo_and_tagged_records_keep_every_acknowledged_tag(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """tagExamples calls, undos and recordExamples calls with tags at once: each adds a tag of its own, so each must
    change every example it reaches, and the end state is the union of the tags of the calls not undone."""
    async with clients_pool(database_url) as pool:
        await examples.record(pool, [example(k) for k in KEYS])
        kept: set[str] = set()
        for round_number in range(3):
            tag_calls = [
                curation.tag_examples(pool, {"executionId": {"in": KEYS}}, [f"op-{round_number}-{k}"], None, None)
                for k in range(CLIENTS // 2)
            ]
            record_calls = [
                examples.record(pool, [example(key, tags=[f"rec-{round_number}-{k}"]) for key in ordered(k)])
                for k in range(CLIENTS // 2)
            ]
            results = await asyncio.gather(*tag_calls, *record_calls)
            operations = results[: len(tag_calls)]
            assert [op.affected_count for op in operations] == [len(KEYS)] * len(operations)
            assert all(r.updated == len(KEYS) for r in results[len(tag_calls) :])
            kept |= {t for op in operations for t in op.added} | {
                f"rec-{round_number}-{k}" for k in range(CLIENTS // 2)
            }
            undone = operations[::2]
            await asyncio.gather(
                *(curation.undo_tag_operation(pool, str(op.id)) for op in undone),
                examples.record(pool, [example(key, tags=["late"]) for key in reversed(KEYS)]),
            )
            kept = (kept - {t for op in undone for t in op.added}) | {"late"}
            assert all(set(r["tags"]) == kept for r in (await rows(pool, KEYS)).values())
    assert not retries(caplog)
