"""SQL for curation: tagging with an undo log, archiving, purging, and aggregates over a compiled filter."""

from __future__ import annotations

from typing import Any

import asyncpg

from tuneyard.core.db import Condition, Connection, Executor, Pool, transact, xact_lock
from tuneyard.curation.models import Aggregate, DryRun, PurgeCounts, Summary, TagOperation
from tuneyard.examples.models import TAGS_LOCK

_OPERATION_COLUMNS = "id, added, removed, affected_count, note, created_at, undone_at, purged_count"


def _operation(row: asyncpg.Record) -> TagOperation:
    return TagOperation(**{key: row[key] for key in TagOperation.__slots__})


# Given a CTE `changed(id, old_tags, new_tags)`, write each example's new tag set to example_tags:
# a row for a non-empty set, none for an empty one.
_WRITE_CHANGED = """
    kept AS (
        INSERT INTO example_tags AS t (example_id, tags)
        SELECT id, new_tags FROM changed WHERE cardinality(new_tags) > 0
        ON CONFLICT (example_id) DO UPDATE SET tags = EXCLUDED.tags
    ), emptied AS (
        DELETE FROM example_tags t USING changed WHERE t.example_id = changed.id AND cardinality(changed.new_tags) = 0
    )"""


def _set_expression(current: str, add: str, remove: str) -> str:
    """SQL for (current + add) minus remove, as a sorted set."""
    return (
        f'ARRAY(SELECT DISTINCT x COLLATE "C" FROM unnest({current} || {add}) AS x WHERE x <> ALL({remove}) ORDER BY 1)'
    )


async def tag(
    pool: Pool, where: Condition, add: list[str], remove: list[str], note: str | None,
    filter_json: Any,
) -> TagOperation:  # fmt: skip
    """Add and remove tags on every matching example in one statement, logging exactly what changed."""
    n = len(where.params)
    add_p, remove_p, note_p, filter_p = f"${n + 1}::text[]", f"${n + 2}::text[]", f"${n + 3}", f"${n + 4}::jsonb"
    sql = f"""
    WITH target AS MATERIALIZED (
        SELECT e.id, coalesce(t.tags, '{{}}') AS old_tags,
               {_set_expression("coalesce(t.tags, '{}')", add_p, remove_p)} AS new_tags
        FROM examples e LEFT JOIN example_tags t ON t.example_id = e.id
        WHERE {where.sql}
    ), changed AS (
        SELECT * FROM target WHERE new_tags <> old_tags
    ), {_WRITE_CHANGED}, operation AS (
        INSERT INTO tag_operations (added, removed, note, filter, affected_count)
        SELECT {add_p}, {remove_p}, {note_p}, {filter_p}, count(*) FROM changed
        RETURNING {_OPERATION_COLUMNS}
    ), logged AS (
        INSERT INTO tag_operation_changes (operation_id, example_id, added, removed)
        SELECT operation.id, changed.id,
               ARRAY(SELECT x FROM unnest(changed.new_tags) AS x WHERE x <> ALL(changed.old_tags)),
               ARRAY(SELECT x FROM unnest(changed.old_tags) AS x WHERE x <> ALL(changed.new_tags))
        FROM changed CROSS JOIN operation
    )
    SELECT * FROM operation
    """

    async def write(conn: Connection) -> asyncpg.Record | None:
        await xact_lock(conn, TAGS_LOCK)  # the statement's snapshot then holds every tag change committed before it
        return await conn.fetchrow(sql, *where.params, add, remove, note, filter_json)

    row = await transact(pool, write, affected=lambda found: None if found is None else found["affected_count"])
    assert row is not None
    return _operation(row)


async def undo(conn: Connection, operation_id: int) -> TagOperation | None:
    """Take off what the operation added and put back what it removed, on exactly the examples it
    changed, leaving every other tag as it is now. None if it does not exist, was already undone, or some of its
    examples were purged (their logged changes are gone with them, so it could only be undone in part).
    Run inside a transaction."""
    sql = f"""
    WITH operation AS (
        UPDATE tag_operations SET undone_at = clock_timestamp()
        WHERE id = $1 AND undone_at IS NULL AND purged_count = 0
        RETURNING {_OPERATION_COLUMNS}
    ), changed AS (
        SELECT c.example_id AS id, {_set_expression("coalesce(t.tags, '{}')", "c.removed", "c.added")} AS new_tags
        FROM tag_operation_changes c
        JOIN operation ON c.operation_id = operation.id
        LEFT JOIN example_tags t ON t.example_id = c.example_id
    ), {_WRITE_CHANGED}
    SELECT * FROM operation
    """

    await xact_lock(conn, TAGS_LOCK)
    row = await conn.fetchrow(sql, operation_id)
    return None if row is None else _operation(row)


async def get_operation(conn: Executor, operation_id: int) -> TagOperation | None:
    row = await conn.fetchrow(f"SELECT {_OPERATION_COLUMNS} FROM tag_operations WHERE id = $1", operation_id)
    return None if row is None else _operation(row)


async def list_operations(conn: Executor, limit: int) -> list[TagOperation]:
    rows = await conn.fetch(f"SELECT {_OPERATION_COLUMNS} FROM tag_operations ORDER BY id DESC LIMIT $1", limit)
    return [_operation(r) for r in rows]


async def set_archived(pool: Pool, where: Condition, archived: bool) -> int:
    """Flip the archived flag on matching examples that do not have it yet; the number flipped.

    The rows are locked first, in executionId order (the order recordExamples writes them in), so that two calls
    over overlapping rows, whatever order their filters would scan them in, wait for each other instead of deadlocking.
    A row another call changed meanwhile is checked again once locked: one archived meanwhile is not counted twice.
    """
    sql = f"""
    WITH target AS MATERIALIZED (
        SELECT e.id FROM examples e WHERE {where.sql} AND e.archived = {not archived}
        ORDER BY e.execution_id COLLATE "C" FOR NO KEY UPDATE OF e
    )
    UPDATE examples e SET archived = {bool(archived)}, updated_at = now() FROM target WHERE e.id = target.id
    """

    async def write(conn: Connection) -> int:
        return int((await conn.execute(sql, *where.params)).rsplit(" ", 1)[1])

    return await transact(pool, write, affected=lambda count: count)


# Purging. A purge considers archived examples only, whatever its filter says, and keeps every example that a dataset
# version holds, deleted version or not (a deleted version keeps its rows, files and lineage).
_HELD = "EXISTS (SELECT 1 FROM dataset_examples d WHERE d.example_id = e.id)"


def _archived(where: Condition) -> str:
    return f"({where.sql}) AND e.archived"


async def count_purgeable(conn: Executor, where: Condition) -> PurgeCounts:
    """How many archived matches a purge would delete, and how many it keeps because a version holds them."""
    row = await conn.fetchrow(
        f"SELECT count(*) AS matched, count(*) FILTER (WHERE {_HELD}) AS held FROM examples e WHERE {_archived(where)}",
        *where.params,
    )
    assert row is not None
    return PurgeCounts(row["matched"] - row["held"], row["held"])


async def hold_dataset_members(conn: Connection) -> None:
    """Hold new dataset members back until this transaction ends (creations in progress are waited for), so that
    what it reads of dataset_examples from its next statement on stays true until it commits."""
    await conn.execute("LOCK TABLE dataset_examples IN SHARE MODE")


async def lock_purgeable(conn: Connection, where: Condition) -> list[int]:
    """Lock the examples a purge would delete, in executionId order (the order every writer of examples rows locks
    them in); their ids. A row changed meanwhile is checked again once locked (one restored meanwhile is left out).

    NO KEY UPDATE, like the other writers of examples rows: a tag writer holding TAGS_LOCK only needs KEY SHARE on
    an example, so it is never blocked by these locks while this transaction waits for TAGS_LOCK."""
    rows = await conn.fetch(
        f"""
        SELECT e.id FROM examples e WHERE {_archived(where)} AND NOT {_HELD}
        ORDER BY e.execution_id COLLATE "C" FOR NO KEY UPDATE OF e
        """,
        *where.params,
    )
    return [r["id"] for r in rows]


async def delete_examples(conn: Connection, where: Condition, locked: list[int]) -> int:
    """Delete the locked examples that still match, with their tags and their rows in the tag-operation log (each
    operation counts its purged examples); the number deleted. Dataset versions' frozen copies are not touched.

    TAGS_LOCK first: no tag writer is then between reading an example's tags and writing them, and none holds
    KEY SHARE on an example any more, so the delete waits for no one. The filter is evaluated again, with the tags
    as they are now."""
    await xact_lock(conn, TAGS_LOCK)
    ids = f"${len(where.params) + 1}::bigint[]"
    deleted: int = await conn.fetchval(
        f"""
        WITH target AS MATERIALIZED (
            SELECT e.id FROM examples e WHERE e.id = ANY({ids}) AND {_archived(where)} AND NOT {_HELD}
        ), tags AS (
            DELETE FROM example_tags t USING target WHERE t.example_id = target.id
        ), logged AS (
            DELETE FROM tag_operation_changes c USING target WHERE c.example_id = target.id RETURNING c.operation_id
        ), counted AS (
            UPDATE tag_operations o SET purged_count = o.purged_count + purged.n
            FROM (SELECT operation_id, count(*) AS n FROM logged GROUP BY operation_id) purged
            WHERE o.id = purged.operation_id
        ), gone AS (
            DELETE FROM examples e USING target WHERE e.id = target.id RETURNING e.id
        )
        SELECT count(*) FROM gone
        """,
        *where.params,
        locked,
    )
    return deleted


async def remember_dry_run(conn: Executor, filter_key: str, deletable: int) -> None:
    await conn.execute(
        """
        INSERT INTO purge_dry_runs (filter_key, deletable) VALUES ($1, $2)
        ON CONFLICT (filter_key, deletable) DO UPDATE SET created_at = EXCLUDED.created_at
        """,
        filter_key,
        deletable,
    )


async def dry_run_reporting(conn: Executor, filter_key: str, deletable: int) -> DryRun | None:
    """The latest dry run of this filter that reported `deletable`, since the filter was last purged."""
    row = await conn.fetchrow(
        "SELECT deletable, created_at FROM purge_dry_runs WHERE filter_key = $1 AND deletable = $2",
        filter_key,
        deletable,
    )
    return None if row is None else DryRun(row["deletable"], row["created_at"])


async def forget_dry_run(conn: Executor, filter_key: str) -> None:
    await conn.execute("DELETE FROM purge_dry_runs WHERE filter_key = $1", filter_key)


async def aggregates(conn: Executor, where: Condition, buckets: int) -> list[Aggregate]:
    """Count, averages and dates overall, by intent, by platform, by model and by quality bucket, from one scan.

    The inner query groups the matching examples by (intent, platform, model, bucket) in one parallel pass;
    the outer one rolls those groups (a few hundred, times the models in use) up into the five groupings.
    """
    p = f"${len(where.params) + 1}"
    rows = await conn.fetch(
        f"""
        WITH cube AS (
            SELECT e.intent, e.platform, e.model_id, least(width_bucket(e.quality_score, 0, 1, {p}), {p}) AS bucket,
                   count(*) AS n, sum(e.quality_score) AS score_sum, count(e.quality_score) AS score_n,
                   sum(e.success::int) AS success_sum, count(e.success) AS success_n,
                   min(e.created_at) AS earliest, max(e.created_at) AS latest
            FROM examples e WHERE {where.sql}
            GROUP BY 1, 2, 3, 4
        )
        SELECT grouping(intent, platform, model_id, bucket) AS grouping, intent, platform, model_id, bucket,
               coalesce(sum(n), 0)::bigint AS count, sum(score_sum) / nullif(sum(score_n), 0) AS avg_quality_score,
               sum(success_sum)::float8 / nullif(sum(success_n), 0) AS success_rate,
               min(earliest) AS earliest, max(latest) AS latest
        FROM cube GROUP BY GROUPING SETS ((), (intent), (platform), (model_id), (bucket))
        """,
        *where.params,
        buckets,
    )
    return [_aggregate(r) for r in rows]


# grouping(intent, platform, model_id, bucket) has a bit set for each column rolled up: which grouping set a row is.
_GROUPINGS = {0b1111: ("all", None), 0b0111: ("intent", "intent"), 0b1011: ("platform", "platform"),
              0b1101: ("model", "model_id"), 0b1110: ("bucket", "bucket")}  # fmt: skip


def _aggregate(row: asyncpg.Record) -> Aggregate:
    grouping, column = _GROUPINGS[row["grouping"]]
    summary = Summary(row["count"], row["avg_quality_score"], row["success_rate"], row["earliest"], row["latest"])
    return Aggregate(grouping, None if column is None else row[column], summary)


async def count_not_archived(conn: Executor) -> int:
    total: int = await conn.fetchval("SELECT count(*) FROM examples WHERE NOT archived")
    return total


async def quality_histogram(conn: Executor, where: Condition, buckets: int) -> dict[int, int]:
    """{bucket number 1..buckets: count}; a score of exactly 1 falls in the last bucket."""
    return {a.key: a.summary.count for a in await aggregates(conn, where, buckets) if a.grouping == "bucket"}


async def counts_by_tag(conn: Executor, where: Condition) -> list[tuple[str, int]]:
    """(tag, count), most frequent first; reads only the examples that have tags (rows of example_tags)."""
    rows = await conn.fetch(
        f"SELECT tag, count(*) AS count "
        f"FROM examples e JOIN example_tags tagged ON tagged.example_id = e.id CROSS JOIN LATERAL unnest(tagged.tags) AS tag "
        f"WHERE {where.sql} GROUP BY tag ORDER BY count DESC, tag",
        *where.params,
    )
    return [(r["tag"], r["count"]) for r in rows]
