"""What a version's hashes cover: every frozen content field changes a member's hash, the split changes the version's,
and nothing else does; createDataset's input rules on both sides of each limit."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from tests.support.datasets import expected_split, new_examples
from tuneyard.core.errors import NotFoundError, ValidationError
from tuneyard.curation import service as curation
from tuneyard.datasets import service
from tuneyard.datasets.models import DiffSide, NewDataset, Split
from tuneyard.examples import service as examples_service

BASE = {
    "executionId": "h-1", "userRequest": "plan a post", "intent": "publish", "platform": "blog",
    "businessState": {"plan": "pro"}, "executionPlan": {"steps": ["draft"]}, "executionResult": {"ok": True},
    "qualityScore": 0.75, "success": True, "tags": ["good"], "postPublicationMetrics": {"likes": 3},
    "patternsDiscovered": ["short"], "createdAt": "2025-04-01T10:00:00+00:00", "modelId": "gpt",
}  # fmt: skip
# One change per frozen content column, made in the database as it stands (createdAt is not moved by a re-record).
CHANGES = {
    "user_request": "'plan a thread'", "intent": "'analyze'", "platform": "'twitter'",
    "business_state": """'{"plan": "free"}'""", "execution_plan": """'{"steps": ["review"]}'""",
    "execution_result": """'{"ok": false}'""", "quality_score": "0.5", "success": "false",
    "post_publication_metrics": """'{"likes": 4}'""", "patterns_discovered": "'{long}'",
    "created_at": "'2025-04-01T10:00:01+00:00'", "model_id": "'llama'", "execution_id": "'h-1b'",
}  # fmt: skip
# Worked out once (PostgreSQL's sha256 of the member's hashed fields as jsonb text) and kept: BASE, and BASE without
# an intent, a score and a modelId (a member without modelId hashes as members did before modelId existed).
PINNED = [
    "d7811ac8703ca493a3a84e408f548d625f94d3c776d1689fb9936bb68837444c",
    "c66667f3795e9b01a78806a7897363592ae5f26653db00faaa3b9296cec40be7",
]
NULLED = ["intent", "platform", "business_state", "execution_plan", "execution_result", "quality_score", "success",
          "post_publication_metrics", "patterns_discovered", "model_id"]  # fmt: skip


def new(name: str, fraction: float = 0.0, seed: int = 0, description: str | None = None) -> NewDataset:
    return NewDataset(name=name, description=description, filter={}, validation_fraction=fraction, seed=seed)


async def _member_sha(pool: asyncpg.Pool, dataset_id: int) -> bytes:
    sha: bytes = await pool.fetchval("SELECT content_sha FROM dataset_examples WHERE dataset_id = $1", dataset_id)
    return sha


async def _record(pool: asyncpg.Pool, *examples: dict[str, Any]) -> None:
    await examples_service.record(pool, new_examples(list(examples)))


async def test_each_content_field_changes_the_member_hash(pool: asyncpg.Pool) -> None:
    await _record(pool, BASE)
    first = await service.create(pool, new("h"))
    again = await service.create(pool, new("h"))
    assert again.content_hash == first.content_hash and await _member_sha(pool, again.id) == await _member_sha(
        pool, first.id), "same content, same hashes"  # fmt: skip
    await pool.execute("UPDATE examples SET updated_at = updated_at + interval '1 hour'")
    assert (await service.create(pool, new("h"))).content_hash == first.content_hash, "updatedAt is not content"
    seen = {first.content_hash}
    for column, value in CHANGES.items():
        await pool.execute(f"UPDATE examples SET {column} = {value}")
        changed = await service.create(pool, new("h"))
        assert changed.content_hash not in seen, column
        assert await _member_sha(pool, changed.id) != await _member_sha(pool, first.id), column
        seen.add(changed.content_hash)
    await curation.tag_examples(pool, {}, ["extra"], None, None)
    tagged = await service.create(pool, new("h"))
    assert tagged.content_hash not in seen, "tags are content"
    seen.add(tagged.content_hash)
    for column in NULLED:  # a value becoming null changes the hash too
        await pool.execute(f"UPDATE examples SET {column} = NULL")
        nulled = await service.create(pool, new("h"))
        assert nulled.content_hash not in seen, column
        seen.add(nulled.content_hash)


async def test_frozen_members_keep_their_hash_and_content(pool: asyncpg.Pool) -> None:
    await _record(pool, BASE, {**BASE, "executionId": "h-2", "qualityScore": None})
    first = await service.create(pool, new("keep"))
    await pool.execute("UPDATE examples SET user_request = 'changed later', quality_score = 0.1")
    listed = await service.require(pool, str(first.id))
    assert listed.content_hash == first.content_hash
    page = await service.members(pool, first.id, None, 10, None, {"user_request", "quality_score"})
    assert [(e.user_request, e.quality_score) for e in page.items] == [("plan a post", 0.75), ("plan a post", None)]
    assert first.avg_quality_score == 0.75 and first.example_count == 2


async def test_the_split_changes_the_version_hash(pool: asyncpg.Pool) -> None:
    await _record(pool, *({**BASE, "executionId": f"s-{i}"} for i in range(40)))
    ids = [r["id"] for r in await pool.fetch("SELECT id FROM examples ORDER BY id")]
    all_train = await service.create(pool, new("s", 0.0, seed=1))
    also_all_train = await service.create(pool, new("s", 0.0, seed=2))
    assert (all_train.train_count, all_train.validation_count) == (40, 0)
    assert also_all_train.content_hash == all_train.content_hash, "same members, content and split"
    half = await service.create(pool, new("s", 0.5, seed=1))
    other_half = await service.create(pool, new("s", 0.5, seed=3))
    splits = {seed: [expected_split(seed, i, 0.5) for i in ids] for seed in (1, 3)}
    assert splits[1] != splits[3]
    assert half.validation_count == splits[1].count("VALIDATION") and half.train_count == splits[1].count("TRAIN")
    assert len({all_train.content_hash, half.content_hash, other_half.content_hash}) == 3
    # The version hash is sha256 over each member's content hash and split, in example id order.
    rows = await pool.fetch(
        "SELECT content_sha, split FROM dataset_examples WHERE dataset_id = $1 ORDER BY example_id", half.id
    )
    assert [r["split"] for r in rows] == splits[1]
    digest = hashlib.sha256(b"".join(r["content_sha"] + r["split"].encode() for r in rows)).hexdigest()
    assert half.content_hash == digest


async def test_split_boundaries_follow_the_md5_rule(pool: asyncpg.Pool) -> None:
    await _record(pool, *({**BASE, "executionId": f"b-{i}"} for i in range(60)))
    ids = [r["id"] for r in await pool.fetch("SELECT id FROM examples ORDER BY id")]
    for seed in (-(2**63), 2**63 - 1, 0):
        made = await service.create(pool, new("bounds", 0.5, seed=seed))
        got = {r["example_id"]: r["split"] for r in await pool.fetch(
            "SELECT example_id, split FROM dataset_examples WHERE dataset_id = $1", made.id)}  # fmt: skip
        assert got == {i: expected_split(seed, i, 0.5) for i in ids}, seed
        assert made.seed == seed and made.validation_fraction == 0.5


async def test_create_dataset_input_rules_on_both_sides(pool: asyncpg.Pool) -> None:
    await _record(pool, BASE)
    assert (await service.create(pool, new("  spaced name  "))).name == "spaced name"
    assert (await service.create(pool, new("n" * 200))).name == "n" * 200
    assert (await service.create(pool, new(" " + "n" * 200 + " "))).version == 2, "trimmed before it is measured"
    for name in ("", "   ", "n" * 201):
        with pytest.raises(ValidationError, match=r"^input.name: must be 1..200 characters, not blank"):
            await service.create(pool, new(name))
    assert (await service.create(pool, new("d", description="x" * 10_000))).description == "x" * 10_000
    assert (await service.create(pool, new("d", description=None))).description is None
    with pytest.raises(ValidationError, match=r"^input.description: at most 10000 characters"):
        await service.create(pool, new("d", description="x" * 10_001))
    for bad in (new("a\x00b"), new("d", description="a\x00b")):
        with pytest.raises(ValidationError, match=r"without NUL \(U\+0000\)$"):
            await service.create(pool, bad)
    for fraction in (0.0, 0.5, 0):
        assert (await service.create(pool, new("f", fraction))).validation_fraction == fraction
    for fraction in (-0.001, 0.501, float("nan"), float("inf")):
        with pytest.raises(ValidationError, match=r"^input.validationFraction: must be between 0 and 0.5"):
            await service.create(pool, new("f", fraction))
    for seed in (2**63, -(2**63) - 1):
        with pytest.raises(ValidationError, match=r"^input.seed: must fit in 64 bits$"):
            await service.create(pool, new("f", seed=seed))
    created = await service.create(pool, new("when"))
    assert created.created_at <= datetime.now(UTC) and created.deleted_at is None


async def test_a_members_hash_never_changes_between_releases(pool: asyncpg.Pool) -> None:
    """Diffs compare the hashes of versions frozen long ago with new ones: the hash of given content is fixed."""
    await _record(pool, BASE, {**BASE, "executionId": "h-2", "modelId": None, "intent": None, "qualityScore": None})
    made = await service.create(pool, new("pinned"))
    rows = await pool.fetch(
        "SELECT m.content_sha FROM dataset_examples m JOIN examples e ON e.id = m.example_id "
        "WHERE m.dataset_id = $1 ORDER BY e.execution_id", made.id)  # fmt: skip
    assert [r["content_sha"].hex() for r in rows] == PINNED


async def test_deleting_the_current_version_hands_current_to_the_newest_left_of_its_name(pool: asyncpg.Pool) -> None:
    await _record(pool, BASE)
    a1, a2 = await service.create(pool, new("a")), await service.create(pool, new("a"))
    for _ in range(3):
        b = await service.create(pool, new("b"))
    deleted = await service.delete(pool, str(a2.id))
    assert deleted.deleted_at is not None and not deleted.is_current
    current = {(d.name, d.version) for d in await service.list_datasets(pool, None, True) if d.is_current}
    assert current == {("a", 1), ("b", 3)} and b.version == 3
    await service.delete(pool, str(a1.id))
    current = {(d.name, d.version) for d in await service.list_datasets(pool, None, True) if d.is_current}
    assert current == {("b", 3)}, "a name with every version deleted has no current one"


async def test_member_counts_per_split(pool: asyncpg.Pool) -> None:
    await _record(pool, *({**BASE, "executionId": f"c-{i}"} for i in range(30)))
    made = await service.create(pool, new("counted", 0.5, seed=7))
    assert 0 < made.validation_count < 30
    assert await service.member_count(pool, made.id, None) == 30
    assert await service.member_count(pool, made.id, Split.VALIDATION) == made.validation_count
    assert await service.member_count(pool, made.id, Split.TRAIN) == made.train_count == 30 - made.validation_count


async def test_unknown_versions_and_page_bounds(pool: asyncpg.Pool) -> None:
    await _record(pool, BASE, {**BASE, "executionId": "h-2"})
    base = await service.create(pool, new("pages"))
    with pytest.raises(NotFoundError, match=r"^no dataset with id '999'$"):
        await service.require(pool, "999")
    assert await service.get(pool, "999") is None
    with pytest.raises(NotFoundError, match=r"^no dataset with id '999'$"):
        await service.diff(pool, str(base.id), "999")
    for bad in (-1, 501):
        with pytest.raises(ValidationError, match=f"^first: must be between 0 and 500, got {bad}$"):
            await service.diff_page(pool, DiffSide.ADDED, base.id, base.id, bad, None, set())
        with pytest.raises(ValidationError, match=f"^first: must be between 0 and 500, got {bad}$"):
            await service.members(pool, base.id, None, bad, None, set())
    empty = await service.members(pool, base.id, None, 0, None, set())
    assert (empty.items, empty.has_next_page) == ([], True)
    one = await service.members(pool, base.id, None, 1, None, set())
    rest = await service.members(pool, base.id, None, 1, one.cursors[-1], set())
    assert one.has_next_page and not rest.has_next_page and len(rest.items) == 1
