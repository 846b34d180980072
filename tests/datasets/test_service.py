"""Datasets through the services, on real PostgreSQL: versions, splits, diffs, rollback, delete."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from bench.data import examples as generate
from tests.support.datasets import expected_split, load, new_examples, snapshot
from tests.support.oracle import matches
from tuneyard.core.errors import ConflictError, ValidationError
from tuneyard.curation import service as curation
from tuneyard.datasets import service as service
from tuneyard.datasets.models import DiffSide, NewDataset, Split
from tuneyard.examples import service as examples_service

GOOD = {"qualityScore": {"gte": 0.7}, "tags": {"containsNone": ["development", "test"]}}


def new(name: str, where: dict[str, Any], fraction: float = 0.0, seed: int = 0) -> NewDataset:
    return NewDataset(name=name, description=None, filter=where, validation_fraction=fraction, seed=seed)


async def members(pool: asyncpg.Pool, dataset_id: int) -> dict[int, str]:
    rows = await pool.fetch("SELECT example_id, split FROM dataset_examples WHERE dataset_id = $1", dataset_id)
    return {r["example_id"]: r["split"] for r in rows}


async def test_versions_freeze_the_matching_examples(pool: asyncpg.Pool) -> None:
    rows = await load(pool, 600)
    await pool.execute("UPDATE examples SET archived = true WHERE id % 9 = 0")
    rows = await snapshot(pool)
    first = await service.create(pool, new("planner", GOOD))
    expected = {r["id"] for r in rows if matches(r, GOOD)}
    assert first.version == 1 and first.is_current and first.example_count == len(expected) > 0
    assert set(await members(pool, first.id)) == expected, "archived examples are never frozen"
    assert first.filter == GOOD and len(first.content_hash) == 64
    scores = [r["quality_score"] for r in rows if r["id"] in expected]
    assert first.avg_quality_score == pytest.approx(sum(scores) / len(scores))

    second = await service.create(pool, new("planner", {}))
    assert second.version == 2 and second.is_current
    assert second.example_count == sum(1 for r in rows if not r["archived"])
    assert not (await service.require(pool, str(first.id))).is_current
    other = await service.create(pool, new("other", GOOD))
    assert other.version == 1 and other.content_hash == first.content_hash, "same content, same hash"

    with pytest.raises(ValidationError, match=r"no .*example matches"):
        await service.create(pool, new("planner", {"intent": {"eq": "no such intent"}}))
    for fraction in (-0.1, 0.51, float("nan")):
        with pytest.raises(ValidationError, match="validationFraction"):
            await service.create(pool, new("planner", GOOD, fraction))
    assert [d.version for d in await service.list_datasets(pool, "planner", False)] == [2, 1]


async def test_concurrent_creations_of_one_name_never_collide(pool: asyncpg.Pool) -> None:
    await load(pool, 200)
    created = await asyncio.gather(*(service.create(pool, new("race", {})) for _ in range(6)))
    assert sorted(d.version for d in created) == [1, 2, 3, 4, 5, 6]
    listed = await service.list_datasets(pool, "race", False)
    assert sum(d.is_current for d in listed) == 1


async def test_splits_are_deterministic_disjoint_and_counted(pool: asyncpg.Pool) -> None:
    rows = await load(pool, 1500)
    a = await service.create(pool, new("split", {}, 0.2, seed=42))
    b = await service.create(pool, new("split", {"platform": {"eq": "blog"}}, 0.2, seed=42))
    c = await service.create(pool, new("split", {}, 0.2, seed=43))
    in_a, in_b, in_c = await members(pool, a.id), await members(pool, b.id), await members(pool, c.id)
    assert in_a == {r["id"]: expected_split(42, r["id"], 0.2) for r in rows}
    assert all(in_b[i] == in_a[i] for i in in_b), "same seed: same split in every version"
    assert in_c != in_a, "another seed: another split"
    validation = sum(1 for s in in_a.values() if s == "VALIDATION")
    assert (a.train_count, a.validation_count) == (len(rows) - validation, validation)
    assert 0.15 < validation / len(rows) < 0.25
    # Pages of each split are disjoint and together make the whole version.
    seen: dict[Split, set[int]] = {}
    for split in Split:
        ids: list[int] = []
        after = None
        while True:
            page = await service.members(pool, a.id, split, 500, after, {"execution_id"})
            ids += [e.id for e in page.items]
            if not page.has_next_page:
                break
            after = page.cursors[-1]
        assert len(ids) == len(set(ids)) and ids == sorted(ids)
        seen[split] = set(ids)
    assert not seen[Split.TRAIN] & seen[Split.VALIDATION]
    assert seen[Split.TRAIN] | seen[Split.VALIDATION] == set(in_a)
    none = await service.create(pool, new("split", {}, 0.0))
    assert none.validation_count == 0 and none.train_count == len(rows)


async def _all(pool: asyncpg.Pool, side: DiffSide, base: int, head: int) -> list[int]:
    ids: list[int] = []
    after = None
    while True:
        page = await service.diff_page(pool, side, base, head, 100, after, set())
        ids += [e.id for e in page.items]
        if not page.has_next_page:
            return ids
        after = page.cursors[-1]


async def test_diff_matches_an_independent_computation(pool: asyncpg.Pool) -> None:
    rows = await load(pool, 1200)
    base_filter = {"qualityScore": {"gte": 0.6}}
    head_filter = {"or": [{"platform": {"eq": "blog"}}, {"qualityScore": {"gte": 0.75}}]}
    base = await service.create(pool, new("diff", base_filter))
    # Between the versions some examples are re-recorded with new content and some archived.
    changed_rows = rows[:40]
    again = [{**r, "userRequest": r["userRequest"] + " (again)"} for r in generate(40, seed=5, prefix="ds")]
    await examples_service.record(pool, new_examples(again))
    await curation.archive(pool, {"ids": [str(r["id"]) for r in rows[40:80]]})
    now = await snapshot(pool)
    head = await service.create(pool, new("diff-head", head_filter))

    in_base = {r["id"] for r in rows if matches(r, base_filter)}
    in_head = {r["id"] for r in now if matches(r, head_filter)}
    changed = {r["id"] for r in changed_rows} & in_base & in_head
    _, _, counts = await service.diff(pool, str(base.id), str(head.id))
    assert counts.added == len(in_head - in_base) > 0
    assert counts.removed == len(in_base - in_head) > 0
    assert counts.unchanged == len(in_base & in_head) > 0
    assert counts.changed == len(changed) > 0
    assert counts.added + counts.unchanged == head.example_count
    assert await _all(pool, DiffSide.ADDED, base.id, head.id) == sorted(in_head - in_base)
    assert await _all(pool, DiffSide.REMOVED, base.id, head.id) == sorted(in_base - in_head)
    assert await _all(pool, DiffSide.CHANGED, base.id, head.id) == sorted(changed)
    _, _, same = await service.diff(pool, str(base.id), str(base.id))
    assert (same.added, same.removed, same.unchanged, same.changed) == (0, 0, base.example_count, 0)


async def test_current_rollback_and_soft_delete(pool: asyncpg.Pool) -> None:
    await load(pool, 100)
    v1, v2, _ = [await service.create(pool, new("roll", {})) for _ in range(3)]
    rolled = await service.set_current(pool, str(v1.id))
    assert rolled.is_current
    assert [d.version for d in await service.list_datasets(pool, "roll", False) if d.is_current] == [1]
    deleted = await service.delete(pool, str(v1.id))
    assert deleted.deleted_at is not None and not deleted.is_current
    # Deleting the current version hands "current" to the newest version left.
    assert [d.version for d in await service.list_datasets(pool, "roll", False) if d.is_current] == [3]
    assert [d.version for d in await service.list_datasets(pool, "roll", False)] == [3, 2]
    assert [d.version for d in await service.list_datasets(pool, "roll", True)] == [3, 2, 1]
    with pytest.raises(ConflictError, match="deleted"):
        await service.set_current(pool, str(v1.id))
    with pytest.raises(ConflictError, match="already deleted"):
        await service.delete(pool, str(v1.id))
    _, _, counts = await service.diff(pool, str(v1.id), str(v2.id))
    assert counts.unchanged == v1.example_count, "a deleted version still diffs"
    assert len(await members(pool, v1.id)) == v1.example_count, "its rows stay"
