"""Tagging and its undo through the service, on real PostgreSQL: exact tag sets, exact counts, exactly the examples
an operation changed restored, and archive/restore counts. Expectations come from the inputs."""

from __future__ import annotations

import asyncpg
import pytest

from tests.support.datasets import new_examples
from tuneyard.core.errors import ConflictError, NotFoundError, ValidationError
from tuneyard.curation import service
from tuneyard.examples import service as examples_service

START = {"x": ["keep"], "y": ["a"], "z": [], "w": ["a", "b"]}


async def _load(pool: asyncpg.Pool) -> None:
    await pool.execute("TRUNCATE tag_operations RESTART IDENTITY CASCADE")
    inputs = [{"executionId": k, "userRequest": f"request {k}", "tags": v, "intent": "publish" if k in "xy" else None}
              for k, v in START.items()]  # fmt: skip
    await examples_service.record(pool, new_examples(inputs))


async def _tags(pool: asyncpg.Pool) -> dict[str, list[str]]:
    rows = await pool.fetch("SELECT execution_id, tags FROM example_rows")
    return {r["execution_id"]: list(r["tags"]) for r in rows}


async def _tag_rows(pool: asyncpg.Pool) -> int:
    count: int = await pool.fetchval("SELECT count(*) FROM example_tags")
    return count


async def test_adding_and_removing_tags_as_sets_counts_only_changed_examples(pool: asyncpg.Pool) -> None:
    await _load(pool)
    op = await service.tag_examples(pool, {}, ["a", "c", "a"], None, "first pass")
    assert (op.added, op.removed, op.affected_count, op.note, op.undone_at) == (["a", "c"], [], 4, "first pass", None)
    assert await _tags(pool) == {"x": ["a", "c", "keep"], "y": ["a", "c"], "z": ["a", "c"], "w": ["a", "b", "c"]}
    again = await service.tag_examples(pool, {}, ["a"], None, None)
    assert again.affected_count == 0 and again.note is None, "nothing changed: nothing counted"
    removed = await service.tag_examples(pool, {"intent": {"eq": "publish"}}, ["z"], ["a", "keep"], None)
    assert (removed.added, removed.removed, removed.affected_count) == (["z"], ["a", "keep"], 2)
    assert await _tags(pool) == {"x": ["c", "z"], "y": ["c", "z"], "z": ["a", "c"], "w": ["a", "b", "c"]}
    emptied = await service.tag_examples(pool, {}, None, ["a", "b", "c", "z"], None)
    assert emptied.affected_count == 4
    assert await _tags(pool) == {"x": [], "y": [], "z": [], "w": []} and await _tag_rows(pool) == 0


async def test_undo_restores_exactly_the_examples_it_changed(pool: asyncpg.Pool) -> None:
    await _load(pool)
    first = await service.tag_examples(pool, {}, ["a"], ["b"], "add a, drop b")
    assert first.affected_count == 3  # y already had a and no b
    assert await _tags(pool) == {"x": ["a", "keep"], "y": ["a"], "z": ["a"], "w": ["a"]}
    later = await service.tag_examples(pool, {"executionId": {"in": ["x", "z"]}}, ["later"], None, None)
    undone = await service.undo_tag_operation(pool, str(first.id))
    assert undone.id == first.id and undone.undone_at is not None and undone.affected_count == 3
    # x, z, w get back what they had; y (unchanged by it) keeps its a; the later tag stays.
    assert await _tags(pool) == {"x": ["keep", "later"], "y": ["a"], "z": ["later"], "w": ["a", "b"]}
    listed = await service.tag_operations(pool, 10)
    assert [o.id for o in listed] == [later.id, first.id] and listed[1].undone_at == undone.undone_at
    assert [o.id for o in await service.tag_operations(pool, 1)] == [later.id]
    assert await service.tag_operations(pool, 0) == []
    with pytest.raises(ValidationError, match="first: must be between 0 and 500, got 501"):
        await service.tag_operations(pool, 501)
    with pytest.raises(ConflictError, match=f"^tag operation {first.id} was already undone at "):
        await service.undo_tag_operation(pool, str(first.id))
    await service.undo_tag_operation(pool, str(later.id))
    assert await _tags(pool) == {"x": ["keep"], "y": ["a"], "z": [], "w": ["a", "b"]}
    assert await _tag_rows(pool) == 3, "an example left without tags has no tag row"


async def test_undo_of_an_unknown_or_partly_purged_operation_is_refused(pool: asyncpg.Pool) -> None:
    await _load(pool)
    with pytest.raises(NotFoundError, match=r"^no tag operation with id '999'$"):
        await service.undo_tag_operation(pool, "999")
    with pytest.raises(ValidationError, match="not a valid tag operation id"):
        await service.undo_tag_operation(pool, "abc")
    op = await service.tag_examples(pool, {}, ["n"], None, None)
    await pool.execute("UPDATE tag_operations SET purged_count = 1 WHERE id = $1", op.id)
    with pytest.raises(
        ConflictError, match=f"^tag operation {op.id} cannot be undone: 1 of its 4 examples were purged"
    ):
        await service.undo_tag_operation(pool, str(op.id))
    assert all("n" in tags for tags in (await _tags(pool)).values()), "nothing was changed"


async def test_tag_requests_that_make_no_sense_are_refused(pool: asyncpg.Pool) -> None:
    await _load(pool)
    for add, remove in ((None, None), ([], []), ([], None)):
        with pytest.raises(ValidationError, match=r"^add, remove: give at least one tag to add or remove$"):
            await service.tag_examples(pool, {}, add, remove, None)
    with pytest.raises(ValidationError, match=r"^add, remove: a tag cannot be both added and removed: a, b$"):
        await service.tag_examples(pool, {}, ["b", "a", "c"], ["a", "b"], None)
    with pytest.raises(ValidationError, match=r"^add: each tag must be"):
        await service.tag_examples(pool, {}, [" "], None, None)
    assert (await service.tag_examples(pool, {}, None, ["keep"], None)).affected_count == 1
    assert (await service.tag_examples(pool, {}, ["b"], [], None)).affected_count == 3


async def test_archived_examples_are_not_tagged_and_archive_counts_flips(pool: asyncpg.Pool) -> None:
    await _load(pool)
    assert await service.archive(pool, {"executionId": {"in": ["x", "y"]}}) == 2
    assert await service.archive(pool, {"executionId": {"in": ["x", "y", "z"]}}) == 1, "only those not yet archived"
    op = await service.tag_examples(pool, {}, ["t"], None, None)
    assert op.affected_count == 1 and (await _tags(pool))["w"] == ["a", "b", "t"]
    assert await service.restore(pool, {"executionId": {"eq": "x"}}) == 1
    assert await service.restore(pool, {"executionId": {"eq": "x"}}) == 0
    assert await service.restore(pool, {}) == 2
    archived = await pool.fetchval("SELECT count(*) FROM examples WHERE archived")
    assert archived == 0 and await service.archive(pool, {}) == 4
