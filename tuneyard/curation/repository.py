"""SQL for curation: tagging with an undo log, and archiving (purging: purge_repository; stats: stats_repository)."""

from __future__ import annotations

from typing import Any

import asyncpg

from tuneyard.core.db import Condition, Connection, Executor, Pool, transact, xact_lock
from tuneyard.curation.models import TagOperation
from tuneyard.examples.models import TAGS_LOCK

_OPERATION_COLUMNS = (
    "id, added, removed, affected_count, note, created_at, undone_at, purged_count, run_id, undo_run_id"
)
# The tag log lists the examples an operation changed in blocks of this many ids (migration 0016).
BLOCK = 65536


def _operation(row: asyncpg.Record) -> TagOperation:
    return TagOperation(**{key: row[key] for key in TagOperation.__slots__})


def _with_runs(source: str) -> str:
    """SELECT operations (rows of `source`, a table or a CTE with _OPERATION_COLUMNS, as `o`) with the jobs of
    the runs applying and undoing them, and whether they are complete (applied inline, or their run finished)."""
    return f"""
    SELECT o.id, o.added, o.removed, o.affected_count, o.note, o.created_at, o.undone_at, o.purged_count, o.run_id,
           a.job_id, o.run_id IS NULL OR a.finished_at IS NOT NULL AS complete, o.undo_run_id, u.job_id AS undo_job_id
    FROM {source} o LEFT JOIN curation_runs a ON a.id = o.run_id LEFT JOIN curation_runs u ON u.id = o.undo_run_id"""


class _TooMany(Exception):
    """More examples matched than the caller's limit: the transaction rolls back, having written nothing."""


async def prepare_bulk_write(conn: Connection) -> None:
    """Settings for the rest of a transaction that writes the tags of up to millions of examples. Compiling its
    statement's expressions costs more than it saves (70 ms at a million examples, about a second at ten million,
    where optimisation and inlining start); and the examples it changes, a hundred bytes each, are kept in memory
    up to 64 MB (100,000 of them took 10 MB) instead of being written to temporary files past the default 4 MB."""
    await conn.execute("SET LOCAL jit = off; SET LOCAL work_mem = '64MB'")


def difference(a: str, b: str) -> str:
    """SQL for the elements of set `a` that are not in `b`, in `a`'s order; no subquery when either is empty or `b`
    is a single tag (as it is for most operations and their undos)."""
    rest = f"ARRAY(SELECT x FROM unnest({a}) AS x WHERE x <> ALL({b}))"
    return (
        f"CASE WHEN cardinality({a}) = 0 OR cardinality({b}) = 0 THEN {a} "
        f"WHEN cardinality({b}) = 1 THEN array_remove({a}, ({b})[1]) ELSE {rest} END"
    )


def set_expression(current: str, add: str, remove: str) -> str:
    """SQL for (current + add) minus remove, as a sorted set, given sorted sets with `add` and `remove` disjoint.

    Most examples need no sort: one without tags gets `add` as it is, and a set that only loses tags keeps its order.
    """
    union = (
        f'ARRAY(SELECT DISTINCT x COLLATE "C" FROM unnest({current} || {add}) AS x WHERE x <> ALL({remove}) ORDER BY 1)'
    )
    return (
        f"CASE WHEN cardinality({current}) = 0 THEN {add} "
        f"WHEN cardinality({add}) = 0 THEN {difference(current, remove)} ELSE {union} END"
    )


# The tags of the example with id `column`, '{}' when it has none: an index probe per example, so that a write
# reads only the tag rows of the examples it changes, never the whole table. In a MATERIALIZED CTE, so that it runs
# once per example however many expressions use it.
def tags_of(column: str) -> str:
    return f"coalesce((SELECT t.tags FROM example_tags t WHERE t.example_id = {column}), '{{}}')"


# Given a CTE `changed(id, old_tags, new_tags)`, write each example's new tag set to example_tags: a row for a
# non-empty set, none for an empty one. Both find their rows by index probes, never by a scan of the whole table.
WRITE_CHANGED = """
    kept AS (
        INSERT INTO example_tags AS t (example_id, tags)
        SELECT id, new_tags FROM changed WHERE cardinality(new_tags) > 0
        ON CONFLICT (example_id) DO UPDATE SET tags = EXCLUDED.tags
    ), emptied AS (
        DELETE FROM example_tags t
        WHERE t.example_id = ANY(ARRAY(SELECT id FROM changed WHERE cardinality(new_tags) = 0))
    )"""


async def tag(
    pool: Pool, where: Condition, add: list[str], remove: list[str], note: str | None,
    filter_json: Any, limit: int | None = None,
) -> TagOperation | None:  # fmt: skip
    """Add and remove tags on every matching example in one statement, logging exactly what changed; None, having
    written nothing, when more than `limit` examples match (found with LIMIT limit + 1: never a full count).

    `add` and `remove` are sorted sets with nothing in common (as set_expression needs)."""
    n = len(where.params)
    add_p, remove_p, note_p, filter_p = f"${n + 1}::text[]", f"${n + 2}::text[]", f"${n + 3}", f"${n + 4}::jsonb"
    limit_p = f"${n + 5}::bigint"
    sql = f"""
    WITH target AS MATERIALIZED (
        SELECT e.id, {tags_of("e.id")} AS old_tags FROM examples e WHERE {where.sql} LIMIT {limit_p} + 1
    ), allowed AS (
        SELECT {limit_p} IS NULL OR count(*) <= {limit_p} AS ok FROM target
    ), changed AS (
        -- the others have every tag to add already, and none to remove
        SELECT id, old_tags, {set_expression("old_tags", add_p, remove_p)} AS new_tags
        FROM target WHERE (SELECT ok FROM allowed) AND NOT (old_tags @> {add_p} AND NOT old_tags && {remove_p})
    ), {WRITE_CHANGED}, operation AS (
        INSERT INTO tag_operations (added, removed, note, filter, affected_count)
        SELECT {add_p}, {remove_p}, {note_p}, {filter_p}, count(*) FROM changed HAVING (SELECT ok FROM allowed)
        RETURNING {_OPERATION_COLUMNS}
    ), logged AS (
        INSERT INTO tag_operation_batches (operation_id, block, added, removed, example_ids)
        SELECT operation.id, change.id / {BLOCK}, change.added, change.removed, array_agg(change.id ORDER BY change.id)
        FROM (
            SELECT id, {difference("new_tags", "old_tags")} AS added, {difference("old_tags", "new_tags")} AS removed
            FROM changed
        ) AS change CROSS JOIN operation
        GROUP BY operation.id, change.id / {BLOCK}, change.added, change.removed
    ){_with_runs("operation")}
    """

    async def write(conn: Connection) -> asyncpg.Record:
        await xact_lock(conn, TAGS_LOCK)  # the statement's snapshot then holds every tag change committed before it
        await prepare_bulk_write(conn)
        row = await conn.fetchrow(sql, *where.params, add, remove, note, filter_json, limit)
        if row is None:
            raise _TooMany
        return row

    try:
        return _operation(await transact(pool, write, affected=lambda found: found["affected_count"]))
    except _TooMany:
        return None


async def undo(
    conn: Connection, operation_id: int, after: int = -1, undo_run_id: int | None = None
) -> TagOperation | None:
    """Take off what the operation added and put back what it removed, on exactly the examples it changed (those
    with ids past `after`: an undo run that stopped did the others), leaving every other tag as it is now. None if
    it does not exist, was already undone, some of its examples were purged (their logged changes are gone with them,
    so it could only be undone in part), or its undo run is no longer `undo_run_id`. Run inside a transaction."""
    sql = f"""
    WITH operation AS (
        UPDATE tag_operations SET undone_at = clock_timestamp()
        WHERE id = $1 AND undone_at IS NULL AND purged_count = 0 AND undo_run_id IS NOT DISTINCT FROM $3
        RETURNING {_OPERATION_COLUMNS}
    ), logged AS MATERIALIZED (
        SELECT x AS id, {tags_of("x")} AS old_tags, b.added, b.removed
        FROM tag_operation_batches b JOIN operation ON b.operation_id = operation.id
        CROSS JOIN LATERAL unnest(b.example_ids) AS x
        WHERE b.block >= $2::bigint / {BLOCK} AND x > $2::bigint
    ), changed AS (
        -- the others are as the undo would leave them already
        SELECT id, old_tags, {set_expression("old_tags", "removed", "added")} AS new_tags
        FROM logged WHERE NOT (old_tags @> removed AND NOT old_tags && added)
    ), {WRITE_CHANGED}{_with_runs("operation")}
    """

    await xact_lock(conn, TAGS_LOCK)
    await prepare_bulk_write(conn)
    row = await conn.fetchrow(sql, operation_id, after, undo_run_id)
    return None if row is None else _operation(row)


async def get_operation(conn: Executor, operation_id: int) -> TagOperation | None:
    row = await conn.fetchrow(f"{_with_runs('tag_operations')} WHERE o.id = $1", operation_id)
    return None if row is None else _operation(row)


async def list_operations(conn: Executor, limit: int) -> list[TagOperation]:
    rows = await conn.fetch(f"{_with_runs('tag_operations')} ORDER BY o.id DESC LIMIT $1", limit)
    return [_operation(r) for r in rows]


async def set_archived(pool: Pool, where: Condition, archived: bool, limit: int | None = None) -> int | None:
    """Flip the archived flag on matching examples that do not have it yet; the number flipped. None, having changed
    nothing, when more than `limit` examples would flip (found with LIMIT limit + 1: never a full count).

    The rows are locked first, in executionId order (the order recordExamples writes them in), so that two calls
    over overlapping rows, whatever order their filters would scan them in, wait for each other instead of deadlocking.
    A row another call changed meanwhile is checked again once locked: one archived meanwhile is not counted twice.
    """
    limit_p = f"${len(where.params) + 1}::bigint"
    sql = f"""
    WITH target AS MATERIALIZED (
        SELECT e.id FROM examples e WHERE {where.sql} AND e.archived = {not archived}
        ORDER BY e.execution_id COLLATE "C" LIMIT {limit_p} + 1 FOR NO KEY UPDATE OF e
    ), updated AS (
        UPDATE examples e SET archived = {bool(archived)}, updated_at = now() FROM target
        WHERE e.id = target.id AND ({limit_p} IS NULL OR (SELECT count(*) FROM target) <= {limit_p})
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM target) AS matched, (SELECT count(*) FROM updated) AS updated
    """

    async def write(conn: Connection) -> int:
        row = await conn.fetchrow(sql, *where.params, limit)
        assert row is not None
        if limit is not None and row["matched"] > limit:
            raise _TooMany
        return int(row["updated"])

    try:
        return await transact(pool, write, affected=lambda count: count)
    except _TooMany:
        return None
