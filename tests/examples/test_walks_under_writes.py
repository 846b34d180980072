"""The pagination rule of the README, under concurrent writes: an example that keeps its sort key during a walk is
returned at most once, and exactly once if it matched the filter from the walk's first page to its last; one whose
sort key changes may be returned more than once or not at all."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from tests.examples.racing import clients_pool, example, retries, rows
from tuneyard.curation import service as curation
from tuneyard.examples import service
from tuneyard.examples.models import NewExample
from tuneyard.examples.ordering import ExampleOrder

START = datetime(2025, 1, 1, tzinfo=UTC)
MOVING = [f"moving-{i:03d}" for i in range(300)]  # scores changed during the walks
MEMBERS = [f"member-{i:03d}" for i in range(100)]  # archived and restored during the walks
STEADY = [f"steady-{i:04d}" for i in range(1100)]  # re-recorded unchanged, or with only other fields changed


async def test_every_ordering_under_concurrent_writes(database_url: str, caplog: pytest.LogCaptureFixture) -> None:
    rng = random.Random(23)
    # Half the examples come with a createdAt (some of them equal), half get the time they were recorded.
    dated = {key: START + timedelta(hours=rng.randrange(500)) for key in rng.sample(MOVING + MEMBERS + STEADY, 750)}

    def current(key: str, **changes: object) -> NewExample:
        sent = example(key, score=round(rng.random(), 2) if key in MOVING else 0.5, created_at=dated.get(key))
        for name, value in changes.items():
            setattr(sent, name, value)
        return sent

    async with clients_pool(database_url) as pool:
        everything = MOVING + MEMBERS + STEADY
        rng.shuffle(everything)
        for i in range(0, len(everything), 500):
            await service.record(pool, [current(key) for key in everything[i : i + 500]])
        before = await rows(pool)
        member_ids = [str(before[key]["id"]) for key in MEMBERS]
        newcomers = iter(range(100_000))

        async def race_newcomers() -> None:
            keys = [f"new-{next(newcomers)}" for _ in range(10)]
            await asyncio.gather(*(service.record(pool, [example(k) for k in rng.sample(keys, 10)]) for _ in range(2)))

        def writes(step: int) -> list[asyncio.Future[object]]:
            """One round of writers, all at once: every kind of re-record, archive or restore, racing inserts."""
            return [
                asyncio.ensure_future(w)
                for w in (
                    service.record(pool, [current(key) for key in rng.sample(MOVING, 100)]),
                    service.record(pool, [current(key) for key in rng.sample(STEADY, 200)]),
                    service.record(pool, [current(k, user_request=f"edited {step}") for k in rng.sample(STEADY, 50)]),
                    (curation.archive if step % 2 == 0 else curation.restore)(pool, {"ids": member_ids}),
                    race_newcomers(),
                )
            ]

        walks: dict[ExampleOrder, list[int]] = {order: [] for order in ExampleOrder}
        cursors: dict[ExampleOrder, str | None] = dict.fromkeys(ExampleOrder)
        where, walking, step = service.compile_filter({}), list(ExampleOrder), 0
        while walking:
            pages = [service.page(pool, where, order, 40, cursors[order], ["id"]) for order in walking]
            results = await asyncio.gather(*pages, *writes(step))
            for order, page in zip(list(walking), results, strict=False):
                walks[order] += [e.id for e in page.items]
                cursors[order] = page.cursors[-1] if page.items else cursors[order]
                if not page.has_next_page:
                    walking.remove(order)
            step += 1
        assert step > 30, "the walks ran beside many rounds of writes"

        after = await rows(pool)
        for key, row in before.items():
            assert after[key]["created_at"] == row["created_at"], f"{key}: createdAt moved"
        for order, seen in walks.items():
            counts = Counter(seen)
            for key, row in after.items():
                keeps_key = order.by_created_at or key not in MOVING
                seen_times = counts[row["id"]]
                if keeps_key and key in before and key not in MEMBERS:
                    assert seen_times == 1, f"{order.name}: {key} returned {seen_times} times"
                elif keeps_key:
                    assert seen_times <= 1, f"{order.name}: {key} returned {seen_times} times"
    assert not retries(caplog)


async def test_the_issue_walk_by_quality(database_url: str) -> None:
    """A=0.9, B=0.5, C=0.1, walked by QUALITY_SCORE_DESC one at a time; after the first page A becomes 0.3 and C 0.95:
    B, whose score stayed, is returned once; A, whose score changed, twice; C not at all. By creation: once each."""
    async with clients_pool(database_url) as pool:
        scores = {"A": 0.9, "B": 0.5, "C": 0.1}
        await service.record(pool, [example(k, score=s) for k, s in scores.items()])
        ids = {r["id"]: key for key, r in (await rows(pool)).items()}

        async def walk(order: ExampleOrder) -> list[str]:
            seen: list[str] = []
            after = None
            while True:
                page = await service.page(pool, service.compile_filter({}), order, 1, after, ["id"])
                seen += [ids[e.id] for e in page.items]
                if len(seen) == 1:
                    await service.record(pool, [example("A", score=0.3), example("C", score=0.95)])
                if not page.has_next_page:
                    return seen
                after = page.cursors[-1]

        assert await walk(ExampleOrder.QUALITY_SCORE_DESC) == ["A", "B", "A"]
        await service.record(pool, [example(k, score=s) for k, s in scores.items()])
        assert sorted(await walk(ExampleOrder.CREATED_AT_DESC)) == ["A", "B", "C"]
