"""Tagging and undo against a model of tag sets, on examples whose ids span several blocks of the tag log (65,536 ids
each): random operations over random tag sets, "C"-ordered with non-ASCII tags, each checked example by example, its
log checked row by row, then undone in another order; and purges that take some of their examples out of the log."""

from __future__ import annotations

import random
from collections import defaultdict

import asyncpg

from tuneyard.curation import service

BLOCK = 65536
IDS = [1, 2, 3, 65535, 65536, 65537, 2 * BLOCK + 5, 2 * BLOCK + 6, 5 * BLOCK, 5 * BLOCK + 1, 7 * BLOCK - 1, 7 * BLOCK]
TAGS = ["a", "b", "Z", "é", "ä", "tag with space", "b2"]


async def store(pool: asyncpg.Pool, tags: dict[int, list[str]]) -> None:
    """Examples with exactly these ids (spread over blocks), and their tags."""
    await pool.execute("TRUNCATE tag_operations RESTART IDENTITY CASCADE")
    await pool.execute(
        "INSERT INTO examples (id, execution_id, user_request) OVERRIDING SYSTEM VALUE "
        "SELECT id, 'log-' || id, 'request' FROM unnest($1::bigint[]) AS id",
        list(tags),
    )
    await pool.executemany(
        "INSERT INTO example_tags (example_id, tags) VALUES ($1, $2)", [(i, t) for i, t in tags.items() if t]
    )


async def stored_tags(pool: asyncpg.Pool) -> dict[int, list[str]]:
    rows = await pool.fetch("SELECT id, tags FROM example_rows")
    return {r["id"]: list(r["tags"]) for r in rows}


async def logged(pool: asyncpg.Pool, operation_id: int) -> dict[int, tuple[list[str], list[str]]]:
    """{example id: (added, removed)} from the operation's log rows, checking each row's shape on the way."""
    found = {}
    for row in await pool.fetch("SELECT * FROM tag_operation_batches WHERE operation_id = $1", operation_id):
        ids = list(row["example_ids"])
        assert ids == sorted(set(ids)) and {i // BLOCK for i in ids} == {row["block"]}, row
        found |= {i: (list(row["added"]), list(row["removed"])) for i in ids}
    return found


def random_set(rng: random.Random) -> list[str]:
    return sorted(rng.sample(TAGS, rng.choice([0, 0, 1, 2, 3])))


async def test_random_operations_and_their_undos_match_a_model_of_tag_sets(pool: asyncpg.Pool) -> None:
    rng = random.Random(3)
    model = {i: random_set(rng) for i in IDS}
    await store(pool, model)
    operations = []
    for _ in range(12):
        add = random_set(rng)
        remove = sorted(set(random_set(rng)) - set(add)) if add else random_set(rng) or ["a"]
        chosen = rng.sample(IDS, rng.randrange(1, len(IDS) + 1))
        op = await service.tag_examples(pool, {"ids": [str(i) for i in chosen]}, add, remove, None)
        changes = {}
        for i in chosen:
            new = sorted((set(model[i]) | set(add)) - set(remove))
            if new != model[i]:
                changes[i] = (sorted(set(new) - set(model[i])), sorted(set(model[i]) - set(new)))
                model[i] = new
        assert op.affected_count == len(changes)
        assert await logged(pool, op.id) == changes
        assert await stored_tags(pool) == model, "sets in code-point order, as PostgreSQL's C collation"
        operations.append((op.id, changes))

    rng.shuffle(operations)
    for operation_id, changes in operations:
        await service.undo_tag_operation(pool, str(operation_id))
        for i, (added, removed) in changes.items():
            model[i] = sorted((set(model[i]) | set(removed)) - set(added))
        assert await stored_tags(pool) == model
    assert not await pool.fetchval("SELECT count(*) FROM example_tags WHERE cardinality(tags) = 0")


async def test_a_purge_takes_its_examples_out_of_every_log_row(pool: asyncpg.Pool) -> None:
    await store(pool, {i: ["old"] if i % 2 else [] for i in IDS})
    first = await service.tag_examples(pool, {}, ["x"], ["old"], None)  # two ways: "x" added, and "old" off too
    second = await service.tag_examples(pool, {"ids": [str(i) for i in IDS[:4]]}, ["y"], None, None)
    gone = [IDS[0], IDS[3], IDS[4], IDS[5], 5 * BLOCK]  # all of block 1, some of blocks 0 and 5
    await service.archive(pool, {"ids": [str(i) for i in gone]})
    assert (await service.purge(pool, {}, str(len(gone)))).deletable == len(gone)

    first_log, second_log = await logged(pool, first.id), await logged(pool, second.id)
    assert set(first_log) == set(IDS) - set(gone) and set(second_log) == set(IDS[:4]) - set(gone)
    blocks = defaultdict(list)
    for row in await pool.fetch("SELECT operation_id, block FROM tag_operation_batches"):
        blocks[row["operation_id"]].append(row["block"])
    assert 1 not in blocks[first.id], "a log row left without examples goes"
    operations = {op.id: op for op in await service.tag_operations(pool, 10)}
    assert operations[first.id].purged_count == len(gone)
    assert operations[second.id].purged_count == len(set(IDS[:4]) & set(gone))
    for op in operations.values():
        assert op.affected_count == len(await logged(pool, op.id)) + op.purged_count
